"""The provider role (filled in by the linkage-flow work)."""
