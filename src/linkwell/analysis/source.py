"""Opening a release for analysis: check it, score it, and derive one boolean column per measure.

The release Parquet file is checked before anything is computed: it must not hold any column of
``schema.release.FORBIDDEN_COLUMNS`` (an analyst must never see an identifier), it must hold the
columns every table needs, and it must not be empty. Its whole-number columns (answers, areas)
must hold whole numbers in their field's range, whatever type a tool that re-saved the file gave
them, and are read as integers: scoring's integer arithmetic on a float column would silently
give other scores. It is then scored with the shipped instruments' rules
(``schema.scoring.score_query``) and materialised once as ``analysis``: the breakdown
dimensions, the survey weight, and one nullable boolean per need and per service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from linkwell.analysis.groups import FM_STAGE, OTHER_SEX, fold_mapping
from linkwell.analysis.needs import NeedMeasure, applicable_needs
from linkwell.analysis.services import ServiceMeasure, applicable_services
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import LinkwellError, ReadError, SeparationError, ValidationError
from linkwell.schema import FieldType, load_dataset
from linkwell.schema.areas import UrbanRuralFold, simd_quintile_sql
from linkwell.schema.release import AUTHORITY_LINKED, FORBIDDEN_COLUMNS, SURVEY
from linkwell.schema.rules import CODE_PATTERN
from linkwell.schema.scoring import score_query

__all__ = ["ANALYSIS_TABLE", "REQUIRED_COLUMNS", "PreparedRelease", "Weighting", "prepare_release"]

ANALYSIS_TABLE: Final = "analysis"
"""Name of the materialised table every aggregation reads."""

_RELEASE: Final = quote_ident("release")
REQUIRED_COLUMNS: Final = (SURVEY, "school", "authority", "stage", "sex", AUTHORITY_LINKED)

Weighting = Literal["weighted", "unweighted", "unweighted (weights incomplete)"]


@dataclass(frozen=True)
class PreparedRelease:
    """What :func:`prepare_release` found and built.

    ``need_column`` and ``service_column`` name each measure's boolean column in the analysis
    table; ``simd`` and ``urban_rural`` are the resolutions the release carries (``None`` when
    absent); ``weighting`` says whether survey weights are used.
    """

    path: Path
    children: int
    needs: tuple[NeedMeasure, ...]
    services: tuple[ServiceMeasure, ...]
    simd: Literal["decile", "quintile"] | None
    urban_rural: UrbanRuralFold | None
    weighting: Weighting
    authorities: int
    schools: int

    @property
    def weighted(self) -> bool:
        """True when every child has a survey weight and estimates use it."""
        return self.weighting == "weighted"

    @staticmethod
    def need_column(name: str) -> str:
        """Analysis-table column of need ``name``."""
        return f"need__{name}"

    @staticmethod
    def service_column(name: str) -> str:
        """Analysis-table column of service ``name``."""
        return f"svc__{name}"


def _columns(engine: Engine, path: Path) -> list[str]:
    try:
        rows = engine.fetchall(
            f"DESCRIBE SELECT * FROM read_parquet({quote_string(path)})", purpose="read release"
        )
    except LinkwellError as exc:
        raise ReadError(
            "the release cannot be read as Parquet",
            file=path,
            hint="pass the release.parquet file the linker sealed for the analyst",
        ) from exc
    return [str(row[0]) for row in rows]


def _check_columns(path: Path, columns: list[str]) -> None:
    forbidden = sorted(FORBIDDEN_COLUMNS & set(columns))
    if forbidden:
        raise SeparationError(
            "the release holds an identifier column the analyst must never see",
            file=path,
            field=forbidden[0],
            hint="do not analyse this file; report it to the linker, who must re-issue the release",
        )
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise ValidationError(
                "the release lacks a column every table needs",
                file=path,
                field=column,
                hint="check that the file is a linkwell release",
            )


def _check_labels(engine: Engine, path: Path) -> None:
    """Refuse an authority or school code that a spreadsheet would run as a formula.

    The codes become the published tables' row labels. Providers' validation refuses such codes
    (:data:`~linkwell.schema.rules.CODE_PATTERN`); they are checked again here because the
    tables are published and a release is built from what every provider sent.
    """
    columns = ("authority", "school")
    firsts = ", ".join(
        "min(file_row_number) FILTER (WHERE NOT "
        f"regexp_full_match(CAST({quote_ident(column)} AS VARCHAR), $pattern)) + 1"
        for column in columns
    )
    found = engine.fetchall(
        f"SELECT {firsts} FROM read_parquet($path, file_row_number = true)",
        {"path": str(path), "pattern": CODE_PATTERN},
        purpose="check the release's codes",
    )[0]
    for column, first in zip(columns, found, strict=True):
        if first is not None:
            raise ValidationError(
                "a code in the release is not letters and digits (with only a space, '.', "
                "'/', '_' or '-' between them): the published tables would show it as a label, "
                "where a spreadsheet could run it as a formula",
                file=path,
                row=int(first),
                field=column,
                hint="do not publish from this release; ask the provider of the code to correct "
                "it and the linker to issue the release again",
            )


def _whole_number_ranges(columns: list[str]) -> dict[str, tuple[int, int]]:
    """The release's columns that hold whole numbers, each with the range its field allows."""
    ranges: dict[str, tuple[int, int]] = {"simd_decile": (1, 10), "simd_quintile": (1, 5)}
    ranges |= {f"urban_rural_{fold}": (1, fold) for fold in (8, 6, 3, 2)}
    for dataset_id in ("survey-secondary", "survey-primary", "authority"):
        for field in load_dataset(dataset_id, 1).fields:
            if field.type is FieldType.INTEGER and field.name != "simd_decile":
                low, high = int(field.minimum or 0), int(field.maximum or 0)
                known = ranges.get(field.name, (low, high))
                ranges[field.name] = (min(low, known[0]), max(high, known[1]))
    present = set(columns)
    return {name: span for name, span in ranges.items() if name in present}


def _check_whole_numbers(engine: Engine, path: Path, ranges: dict[str, tuple[int, int]]) -> None:
    """Refuse a release whose answer or area column holds anything but a whole number in range.

    The linker's release holds integers; a file re-saved by another tool may hold doubles
    (``2.0``) or text, which are read as the numbers they are, but never a fraction, a word or a
    value outside the field's range, which would be scored into another need.
    """
    if not ranges:
        return
    firsts = []
    for name, (low, high) in ranges.items():
        number = f"TRY_CAST({quote_ident(name)} AS DOUBLE)"
        firsts.append(
            f"min(file_row_number) FILTER (WHERE {quote_ident(name)} IS NOT NULL AND NOT "
            f"coalesce({number} = floor({number}) AND {number} BETWEEN {low} AND {high}, false))"
        )
    found = engine.fetchall(
        f"SELECT {', '.join(firsts)} FROM read_parquet($path, file_row_number = true)",
        {"path": str(path)},
        purpose="check the release's whole numbers",
    )[0]
    for (name, (low, high)), first in zip(ranges.items(), found, strict=True):
        if first is not None:
            raise ValidationError(
                f"the release holds a value that is not a whole number from {low} to {high}",
                file=path,
                row=int(first) + 1,
                field=name,
                hint="analyse the release the linker sealed, as it was sealed; a file re-saved by "
                "another tool may have changed its values",
            )


def _resolutions(
    columns: list[str],
) -> tuple[Literal["decile", "quintile"] | None, UrbanRuralFold | None]:
    simd: Literal["decile", "quintile"] | None = None
    if "simd_decile" in columns:
        simd = "decile"
    elif "simd_quintile" in columns:
        simd = "quintile"
    fold: UrbanRuralFold | None = None
    for candidate in (8, 6, 3, 2):
        if f"urban_rural_{candidate}" in columns:
            fold = candidate
            break
    return simd, fold


def _area_columns(
    simd: Literal["decile", "quintile"] | None, fold: UrbanRuralFold | None
) -> list[str]:
    select: list[str] = []
    if simd == "decile":
        decile = quote_ident("simd_decile")
        select.append(f"CAST({decile} AS TINYINT) AS {decile}")
        select.append(f"{simd_quintile_sql(decile)} AS {quote_ident('simd_quintile')}")
    elif simd == "quintile":
        quintile = quote_ident("simd_quintile")
        select.append(f"CAST({quintile} AS TINYINT) AS {quintile}")
    if fold is not None:
        source = quote_ident(f"urban_rural_{fold}")
        select.append(f"CAST({source} AS TINYINT) AS {source}")
        for coarser in (6, 3, 2):
            if coarser < fold:
                mapping = fold_mapping(fold, coarser)
                cases = " ".join(f"WHEN {a} THEN {b}" for a, b in mapping.items())
                target = quote_ident(f"urban_rural_{coarser}")
                select.append(f"CAST(CASE {source} {cases} END AS TINYINT) AS {target}")
    return select


def _weighting(engine: Engine, columns: list[str]) -> Weighting:
    if "weight" not in columns:
        return "unweighted"
    missing, present = engine.execute(
        f"SELECT count(*) FILTER (WHERE weight IS NULL), count(weight) FROM {_RELEASE}",
        purpose="check weights",
    ).fetchone() or (0, 0)
    if present == 0:
        return "unweighted"
    if missing > 0:
        return "unweighted (weights incomplete)"
    return "weighted"


def prepare_release(engine: Engine, path: Path, policy: DisclosurePolicy) -> PreparedRelease:
    """Check the release at ``path``, score it, and materialise :data:`ANALYSIS_TABLE`."""
    columns = _columns(engine, path)
    _check_columns(path, columns)
    ranges = _whole_number_ranges(columns)
    _check_whole_numbers(engine, path, ranges)
    as_integers = ", ".join(
        f"CAST(TRY_CAST({quote_ident(name)} AS DOUBLE) AS INTEGER) AS {quote_ident(name)}"
        for name in ranges
    )
    replace = f" REPLACE ({as_integers})" if ranges else ""
    engine.execute(
        f"CREATE OR REPLACE VIEW {_RELEASE} AS "
        f"SELECT *{replace} FROM read_parquet({quote_string(path)})",
        purpose="open release",
    )
    children = int(engine.scalar(f"SELECT count(*) FROM {_RELEASE}", purpose="count release"))
    if children == 0:
        raise ValidationError(
            "the release has no rows", file=path, hint="check that the linkage produced a release"
        )
    _check_labels(engine, path)
    instruments = []
    seen: set[str] = set()
    for dataset_id in ("survey-secondary", "survey-primary"):
        dataset = load_dataset(dataset_id, 1)
        for instrument in dataset.instruments:
            items = {item for scale in instrument.scales for item in scale.items}
            if instrument.name not in seen and items <= set(columns):
                instruments.append(instrument)
                seen.add(instrument.name)
    scoring = load_dataset("survey-secondary", 1).model_copy(
        update={"instruments": tuple(instruments)}
    )
    scored_columns = set(columns) | {
        name
        for instrument in instruments
        for name in (
            [s.name for s in instrument.scales]
            + [t.name for t in instrument.totals]
            + [b.name for b in instrument.bands]
        )
    }
    needs = applicable_needs(scored_columns)
    services = applicable_services(columns, policy)
    simd, fold = _resolutions(columns)
    weighting = _weighting(engine, columns)
    weight_sql = "CAST(weight AS DOUBLE)" if weighting == "weighted" else "1.0"
    select = [
        f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}"
        for c in ("survey", "authority", "school", "stage")
    ]
    sex = quote_ident("sex")
    girls_boys = f"{sex} IN ({quote_string('female')}, {quote_string('male')})"
    select.append(
        f"CASE WHEN {girls_boys} THEN CAST({sex} AS VARCHAR) "
        f"ELSE {quote_string(OTHER_SEX)} END AS {sex}"
    )
    select.append(
        f"CASE WHEN {girls_boys} THEN CAST({quote_ident('stage')} AS VARCHAR) END "
        f"AS {quote_ident(FM_STAGE)}"
    )
    select.append(f"CAST({quote_ident(AUTHORITY_LINKED)} AS BOOLEAN) AS linked")
    select.append(f"{weight_sql} AS weight")
    select += _area_columns(simd, fold)
    select += [f"{n.sql} AS {quote_ident(PreparedRelease.need_column(n.name))}" for n in needs]
    select += [
        f"{s.sql} AS {quote_ident(PreparedRelease.service_column(s.name))}" for s in services
    ]
    engine.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(ANALYSIS_TABLE)} AS "
        f"SELECT {', '.join(select)} FROM ({score_query(scoring, _RELEASE)})",
        purpose="score the release",
    )
    if needs:
        answered = (
            engine.execute(
                "SELECT "
                + ", ".join(
                    f"count({quote_ident(PreparedRelease.need_column(n.name))})" for n in needs
                )
                + f" FROM {quote_ident(ANALYSIS_TABLE)}",
                purpose="count answers",
            ).fetchone()
            or ()
        )
        needs = tuple(n for n, count in zip(needs, answered, strict=True) if count)
    authorities, schools = engine.execute(
        f"SELECT count(DISTINCT authority), count(DISTINCT (authority, school)) "
        f"FROM {quote_ident(ANALYSIS_TABLE)}",
        purpose="count schools",
    ).fetchone() or (0, 0)
    return PreparedRelease(
        path=path,
        children=children,
        needs=needs,
        services=services,
        simd=simd,
        urban_rural=fold,
        weighting=weighting,
        authorities=int(authorities),
        schools=int(schools),
    )
