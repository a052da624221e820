"""The linker's linkage-quality counts, read for the caveats and checked against the release.

The quality table (Parquet or CSV, as the linker sends it) holds, per ``dimension`` (``all``,
``school``, ``stage``, ``sex``, ``survey``, ``authority``) and ``category``, the number of
surveyed children and of those whose authority data was linked. Its totals are compared with the
release. Its counts are not published: linkage differences by group are shown only as
whole-number percentages for groups of at least twice the threshold, which says how complete
the linkage is without adding counts that could be set against the disclosure-checked tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.engine import Engine, quote_string
from linkwell.errors import LinkwellError, ReadError, ValidationError

__all__ = ["QUALITY_DIMENSIONS", "LinkageQuality", "read_quality"]

QUALITY_DIMENSIONS: Final = ("stage", "sex", "survey", "authority", "school")
_TITLES: Final = {
    "stage": "Stage",
    "sex": "Sex",
    "survey": "Survey",
    "authority": "Authority",
    "school": "School",
}
_COLUMNS: Final = ("dimension", "category", "surveyed", "linked")


@dataclass(frozen=True)
class LinkageQuality:
    """Totals and publishable rates from a linkage-quality table."""

    linked: int
    not_linked: int
    rates: tuple[tuple[str, str, str], ...]

    @property
    def surveyed(self) -> int:
        """Children the linker counted."""
        return self.linked + self.not_linked


def _relation(path: Path) -> str:
    reader = "read_csv" if path.suffix.lower() == ".csv" else "read_parquet"
    return f"{reader}({quote_string(path)})"


def read_quality(path: Path, *, threshold: int) -> LinkageQuality:
    """Read and check the quality table; rates only for groups of at least ``2 * threshold``."""
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
        rates: list[tuple[str, str, str]] = []
        for dim in QUALITY_DIMENSIONS:
            rows = engine.fetchall(
                f"SELECT CAST(category AS VARCHAR), linked, surveyed FROM {relation} "
                "WHERE dimension = ? ORDER BY category NULLS LAST",
                [dim],
                purpose="quality rates",
            )
            for group, group_linked, total in rows:
                if total and total >= 2 * threshold:
                    label = "Not known" if group is None else str(group)
                    rates.append((_TITLES[dim], label, f"{100 * group_linked / total:.0f}"))
    return LinkageQuality(linked, surveyed - linked, tuple(rates))
