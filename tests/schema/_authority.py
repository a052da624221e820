"""Synthetic authority extracts for the schema tests: clean rows, then planted problems."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from linkwell.schema import FieldType, load_dataset

AUTHORITY = load_dataset("authority", 1)
FLAGS = tuple(f.name for f in AUTHORITY.fields if f.type is FieldType.BOOLEAN and not f.derived)
ASN = tuple(f for f in FLAGS if f.startswith("asn_"))
SERVICES = tuple(
    o for r in AUTHORITY.rules if r.name == "not-in-receipt-contradiction" for o in r.others
)
SUPPLIED = ("unique_id", "school", "simd_decile", "urban_rural", *FLAGS, "fsm_basis")


def clean_row(unique_id: str, **changes: str) -> dict[str, str]:
    """A row that breaks no rule: no services, no free school meals."""
    row = {"unique_id": unique_id, "school": "5244439", "simd_decile": "4", "urban_rural": "2"}
    row |= {flag: "N" for flag in FLAGS}
    row["fsm_basis"] = ""
    row |= changes
    return row


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, str]],
    header: Sequence[str] = SUPPLIED,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    """Write ``rows`` under ``header`` (missing keys as empty cells)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
    return path
