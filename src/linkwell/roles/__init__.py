"""The four roles of the separation principle; each module stands alone and none imports another.

* :mod:`~linkwell.roles.provider` — survey and authority providers: participants, split.
* :mod:`~linkwell.roles.indexer` — the indexer: vault, anonymous link IDs, the linkage key.
* :mod:`~linkwell.roles.linker` — the linker: joins content through the key into the release.
* :mod:`~linkwell.roles.analyst` — the analyst: opens the release, runs the analysis and report.
"""
