"""The linker role (filled in by the linkage-flow work)."""
