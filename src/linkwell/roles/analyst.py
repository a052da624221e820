"""The analyst role (filled in by the linkage-flow work)."""
