"""The linker's linkage-quality counts, read for the caveats and checked against the release.

The quality table (Parquet or CSV, as the linker sends it) holds, per ``dimension`` (``all``,
``school``, ``stage``, ``sex``, ``survey``, ``authority``) and ``category``, the number of
surveyed children and of those whose authority data was linked. Its totals are compared with the
release. Nothing of it is published, not even as rates: a school's rate from these exact counts,
beside the tables' linked children of that school, gives how many were not linked. Linkage by
group is published from the release, in the linkage tables, under disclosure control.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.engine import Engine, quote_string
from linkwell.errors import LinkwellError, ReadError, ValidationError

__all__ = ["LinkageQuality", "read_quality"]

_COLUMNS: Final = ("dimension", "category", "surveyed", "linked")


@dataclass(frozen=True)
class LinkageQuality:
    """The totals of a linkage-quality table."""

    linked: int
    not_linked: int

    @property
    def surveyed(self) -> int:
        """Children the linker counted."""
        return self.linked + self.not_linked


def _relation(path: Path) -> str:
    reader = "read_csv" if path.suffix.lower() == ".csv" else "read_parquet"
    return f"{reader}({quote_string(path)})"


def read_quality(path: Path) -> LinkageQuality:
    """Read and check the quality table; its totals."""
    relation = _relation(path)
    with Engine() as engine:
        try:
            columns = [
                str(r[0])
                for r in engine.fetchall(
                    f"DESCRIBE SELECT * FROM {relation}", purpose="read quality"
                )
            ]
        except LinkwellError as exc:
            raise ReadError(
                "the linkage-quality table cannot be read",
                file=path,
                hint="pass the Parquet or CSV file of counts the linker reported",
            ) from exc
        for column in _COLUMNS:
            if column not in columns:
                raise ValidationError(
                    "the linkage-quality table lacks a column",
                    file=path,
                    field=column,
                    hint="it needs dimension, category, surveyed and linked, as the linker sends",
                )
        bad = engine.scalar(
            f"SELECT count(*) FROM {relation} WHERE surveyed IS NULL OR linked IS NULL "
            "OR linked < 0 OR linked > surveyed",
            purpose="check quality counts",
        )
        if bad:
            raise ValidationError(
                "the linkage-quality table has missing, negative or impossible counts",
                file=path,
                field="linked",
                hint="every row needs 0 <= linked <= surveyed",
            )
        totals = engine.fetchall(
            f"SELECT sum(surveyed), sum(linked) FROM {relation} WHERE dimension = 'all'",
            purpose="total quality counts",
        )[0]
        if totals[0] is None:
            raise ValidationError(
                "the linkage-quality table has no overall row",
                file=path,
                field="dimension",
                hint="the linker's table starts with the row of dimension 'all'",
            )
        surveyed, linked = int(totals[0]), int(totals[1])
    return LinkageQuality(linked, surveyed - linked)
