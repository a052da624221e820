"""The linker's linkage-quality counts, read for the caveats and checked against the release.

The quality table (Parquet or CSV) holds counts of surveyed children linked and not linked,
optionally by ``school``, ``stage``, ``sex`` and ``simd_decile`` or ``simd_quintile``: columns
``linked`` and ``not_linked`` (non-negative integers) plus any of those. Its totals are compared
with the release. Its counts are not published: linkage differences by group are shown only as
whole-number percentages for groups of at least twice the threshold, which says how complete
the linkage is without adding counts that could be set against the disclosure-checked tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import LinkwellError, ReadError, ValidationError

__all__ = ["QUALITY_DIMENSIONS", "LinkageQuality", "read_quality"]

QUALITY_DIMENSIONS: Final = ("stage", "sex", "simd_quintile", "simd_decile", "school")
_TITLES: Final = {
    "stage": "Stage",
    "sex": "Sex",
    "simd_quintile": "SIMD quintile",
    "simd_decile": "SIMD decile",
    "school": "School",
}


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
    with Engine() as engine:
        try:
            columns = [
                str(r[0])
                for r in engine.fetchall(
                    f"DESCRIBE SELECT * FROM {_relation(path)}", purpose="read quality"
                )
            ]
        except LinkwellError as exc:
            raise ReadError(
                "the linkage-quality table cannot be read",
                file=path,
                hint="pass the Parquet or CSV file of counts the linker reported",
            ) from exc
        for column in ("linked", "not_linked"):
            if column not in columns:
                raise ValidationError(
                    "the linkage-quality table lacks a count column",
                    file=path,
                    field=column,
                    hint="it needs integer columns 'linked' and 'not_linked'",
                )
        relation = _relation(path)
        negative = engine.scalar(
            f"SELECT count(*) FROM {relation} WHERE linked < 0 OR not_linked < 0 "
            "OR linked IS NULL OR not_linked IS NULL",
            purpose="check quality counts",
        )
        if negative:
            raise ValidationError(
                "the linkage-quality table has missing or negative counts",
                file=path,
                field="linked",
                hint="every row needs non-negative 'linked' and 'not_linked' counts",
            )
        linked, not_linked = engine.execute(
            f"SELECT coalesce(sum(linked), 0), coalesce(sum(not_linked), 0) FROM {relation}",
            purpose="total quality counts",
        ).fetchone() or (0, 0)
        rates: list[tuple[str, str, str]] = []
        for dim in QUALITY_DIMENSIONS:
            if dim not in columns:
                continue
            rows = engine.fetchall(
                f"SELECT CAST({quote_ident(dim)} AS VARCHAR) AS g, sum(linked), "
                f"sum(linked) + sum(not_linked) FROM {relation} GROUP BY ALL ORDER BY g NULLS LAST",
                purpose="quality rates",
            )
            for group, group_linked, total in rows:
                if total and total >= 2 * threshold:
                    label = "Not known" if group is None else str(group)
                    rates.append((_TITLES[dim], label, f"{100 * group_linked / total:.0f}"))
    return LinkageQuality(int(linked), int(not_linked), tuple(rates))
