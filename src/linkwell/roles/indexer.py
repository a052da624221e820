"""The indexer role (filled in by the linkage-flow work)."""
