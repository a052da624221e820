"""The datasets that travel inside packages other than a source's own: one name per format.

A provider's identifiers and content packages carry its source's dataset definition (for example
``authority@1``); every other package carries one of the formats below, so a receiver can tell a
linkage key from a match report by its signed manifest and refuse a format version it does not
know. Changing a format's columns means a new version here.
"""

from __future__ import annotations

from typing import Final

from linkwell.seal.manifest import DatasetRef

__all__ = [
    "DISCLOSURE_RISK",
    "LINKAGE_KEY",
    "LINKAGE_QUALITY",
    "MATCH_REPORT",
    "PARTICIPANTS",
    "RELEASE",
]

PARTICIPANTS: Final = DatasetRef(id="participants", version=1)
"""``(unique_id)``: pupils of one authority who took part in one survey."""
LINKAGE_KEY: Final = DatasetRef(id="linkage-key", version=1)
"""``(source, row_ref, link_id[, longitudinal_id])``, from the indexer."""
MATCH_REPORT: Final = DatasetRef(id="match-report", version=1)
"""``(source, kind, measure, count)``: the indexer's counts per source and row status."""
RELEASE: Final = DatasetRef(id="release", version=1)
"""One row per surveyed child: see :mod:`linkwell.schema.release`."""
LINKAGE_QUALITY: Final = DatasetRef(id="linkage-quality", version=1)
"""``(dimension, category, surveyed, linked, small)``: the linker's linkage rates by group."""
DISCLOSURE_RISK: Final = DatasetRef(id="disclosure-risk", version=1)
"""``(measure, subject, value)``: the linker's k-anonymity and flag-rarity counts."""
