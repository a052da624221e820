"""Proving the separation principle on a real run, by looking for the actual values.

For every party, every file in its workspace is read (decrypting what that party itself can
decrypt) and searched for the values its role must never hold; the result is a table of party
by forbidden kind with the count found, which must be all zeros.
"""

from linkwell.separation.scan import FileScan, Forbidden, ValueSets, scan_file, scan_table
from linkwell.separation.verify import (
    FORBIDDEN_BY_ROLE,
    PartyFinding,
    SeparationReport,
    verify_separation,
)

__all__ = [
    "FORBIDDEN_BY_ROLE",
    "FileScan",
    "Forbidden",
    "PartyFinding",
    "SeparationReport",
    "ValueSets",
    "scan_file",
    "scan_table",
    "verify_separation",
]
