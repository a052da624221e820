"""Applying a provider's :class:`~linkwell.config.ColumnMapping` to a landed table, in SQL.

:func:`plan_mapping` decides, before any row is touched, which column feeds each field (one named
in the mapping, or one whose name reads as the field's once case, spaces and punctuation are
ignored) and refuses unknown fields, two columns for one field and a required field with no
column; other columns are dropped and listed, and ones that read like personal or health data
are called out. :func:`mapped_query` renames, trims, applies missing codes and code maps and
canonicalises categories and yes/no codes, leaving anything unrecognised for validation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.config import ColumnMapping
from linkwell.engine import quote_ident
from linkwell.errors import ConfigError, ValidationError
from linkwell.schema.definitions import FORBIDDEN_NAME_PARTS, DatasetDef, FieldDef, FieldType

__all__ = [
    "BLANKS",
    "MappingPlan",
    "looks_personal",
    "mapped_query",
    "mapping_digest",
    "normalise_name",
    "plan_mapping",
]

BLANKS: Final = " \t\r\n\u00a0"
"""Characters trimmed from both ends of every cell (spaces, tabs, line ends, no-break space)."""

# Words that qualify "name" as something other than a person's name.
_NOT_A_PERSON: Final = frozenset(
    {"school", "la", "authority", "council", "establishment", "centre", "center", "provider",
     "variable", "sheet", "file", "area", "zone", "service", "team", "column", "field"}
)  # fmt: skip


def normalise_name(name: str) -> str:
    """A column name compared loosely: lower case, runs of other characters as one ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-z]+", spaced.lower()) if w]


def looks_personal(name: str) -> bool:
    """Whether a column name reads like a person's name, date of birth, contact or health data."""
    words = _words(name)
    for index, word in enumerate(words):
        joined = word + words[index + 1] if index + 1 < len(words) else ""
        if joined in FORBIDDEN_NAME_PARTS:
            return True
        if word in FORBIDDEN_NAME_PARTS:
            if word in ("name", "names") and index and words[index - 1] in _NOT_A_PERSON:
                continue
            return True
    return False


def mapping_digest(mapping: ColumnMapping) -> str:
    """SHA-256 of the mapping in canonical JSON, recorded with every validation."""
    canonical = json.dumps(mapping.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class MappingPlan:
    """Which provider column feeds each field, and what is dropped.

    ``sources`` has every dataset field, in dataset order, with its provider column or ``None``
    when the file has none. ``personal`` is the part of ``dropped`` whose names read like
    personal or health data. A mapped provider column the file lacks is an error, required field
    or not, unless a column of the field's own name supplies it: a renamed or mistyped column
    would otherwise leave its field empty on every row.
    """

    dataset: DatasetDef
    mapping: ColumnMapping
    sources: Mapping[str, str | None]
    dropped: tuple[str, ...]
    personal: tuple[str, ...]

    @property
    def absent(self) -> tuple[str, ...]:
        """Fields the file does not supply."""
        return tuple(f for f, c in self.sources.items() if c is None)


def check_mapping(mapping: ColumnMapping, dataset: DatasetDef, *, file: str | Path | None) -> None:
    """Refuse a mapping that names fields the dataset does not have."""
    known = {f.name for f in dataset.fields}
    for target in mapping.columns.values():
        if target not in known:
            raise ConfigError(
                f"the mapping sends a column to {target!r}, which dataset {dataset.key} lacks",
                file=file,
                field=target,
                hint="map columns only to the dataset's fields",
            )
    fields = {f.name: f for f in dataset.fields}
    for target, codes in mapping.codes.items():
        if target not in known:
            raise ConfigError(
                f"the mapping has codes for {target!r}, which dataset {dataset.key} lacks",
                file=file,
                field=target,
                hint="give code maps only for the dataset's fields",
            )
        allowed = _codes_of(fields[target], mapping)
        wrong = sorted(
            {
                v
                for v in codes.values()
                if v.strip(BLANKS) and v.strip(BLANKS).lower() not in allowed
            }
        )
        if allowed and wrong:
            raise ConfigError(
                f"the mapping translates codes of {target!r} to {', '.join(map(repr, wrong))}, "
                "which it cannot hold",
                file=file,
                field=target,
                hint="translate each code to one of the field's codes ("
                + ", ".join(sorted(allowed))
                + '), or to "" for missing',
            )


def _codes_of(field: FieldDef, mapping: ColumnMapping) -> set[str]:
    """What a code map may translate to for ``field`` (lower case); empty: anything."""
    if field.type is FieldType.CATEGORY and field.codes:
        return {c.lower() for c in field.codes}
    if field.type is FieldType.BOOLEAN:
        codes = (*mapping.true_codes, *mapping.false_codes, "true", "false")
        return {c.strip(BLANKS).lower() for c in codes}
    return set()


def _find(column: str, columns: Sequence[str]) -> str | None:
    """The file's column named ``column``: exactly, else the one loose match."""
    if column in columns:
        return column
    loose = [c for c in columns if normalise_name(c) == normalise_name(column)]
    return loose[0] if len(loose) == 1 else None


def _expected(field: str, mapping: ColumnMapping, columns: Sequence[str]) -> str:
    """A missing field, with the column the mapping sends to it (the mapping's words, no data)."""
    wanted = [provider for provider, target in mapping.columns.items() if target == field]
    if not wanted:
        return field
    parts = []
    for provider in wanted:
        loose = sum(normalise_name(c) == normalise_name(provider) for c in columns)
        parts.append(
            f"column {provider!r}"
            + (f", which {loose} columns match but for case or spacing" if loose > 1 else "")
        )
    return f"{field} (the mapping's {' or '.join(parts)})"


def plan_mapping(
    columns: Sequence[str],
    dataset: DatasetDef,
    mapping: ColumnMapping,
    *,
    file: str | Path | None = None,
) -> MappingPlan:
    """Match the file's ``columns`` to ``dataset``'s fields through ``mapping``."""
    check_mapping(mapping, dataset, file=file)
    feeds: dict[str, list[str]] = {f.name: [] for f in dataset.fields}
    used: set[str] = set()
    unmatched: list[str] = []
    for provider, target in mapping.columns.items():
        found = _find(provider, columns)
        if found is None:
            unmatched.append(provider)
            continue
        feeds[target].append(found)
        used.add(found)
    for column in columns:
        if column in used:
            continue
        target = normalise_name(column)
        if target in feeds:
            feeds[target].append(column)
            used.add(column)
    for target, sources in feeds.items():
        if len(sources) > 1:
            raise ValidationError(
                f"{len(sources)} columns give field {target!r}: "
                + ", ".join(repr(s) for s in sources),
                file=file,
                field=target,
                hint="keep one column per field, or map the others elsewhere",
            )
    missing = [f.name for f in dataset.fields if f.required and not f.derived and not feeds[f.name]]
    if missing:
        raise ValidationError(
            "required field(s) with no column in the file: "
            + ", ".join(_expected(name, mapping, columns) for name in missing),
            file=file,
            field=missing[0],
            hint="add the column, or map the provider's column to the field in the mapping",
        )
    emptied = [mapping.columns[c] for c in unmatched if not feeds[mapping.columns[c]]]
    if emptied:
        raise ValidationError(
            "the mapping names column(s) the file does not have: "
            + ", ".join(_expected(name, mapping, columns) for name in emptied),
            file=file,
            field=emptied[0],
            hint="correct the column's name in the mapping, or rename it in the file; take it "
            "out of the mapping only if this extract truly lacks it",
        )
    dropped = tuple(c for c in columns if c not in used)
    return MappingPlan(
        dataset=dataset,
        mapping=mapping,
        sources={name: (found[0] if found else None) for name, found in feeds.items()},
        dropped=dropped,
        personal=tuple(c for c in dropped if looks_personal(c)),
    )


def mapped_query(plan: MappingPlan, relation: str) -> tuple[str, dict[str, object]]:
    """SQL giving ``_row`` and every field as canonical text, with its named parameters.

    ``relation`` is trusted SQL naming the landed table. Layers: trim; apply missing codes;
    translate per-field codes, in any case (a code mapped to an empty string means missing);
    canonicalise category codes case-insensitively, yes/no codes to ``true``/``false``, and a
    code written as a whole number with a decimal point (``9346726.0``, as a spreadsheet or a
    float column exports it) to its digits, or one school would count as two.
    """
    mapping = plan.mapping
    params: dict[str, object] = {
        "blanks": BLANKS,
        "missing": sorted({c.strip(BLANKS).lower() for c in mapping.missing_codes}),
        "trues": sorted({c.strip(BLANKS).lower() for c in mapping.true_codes}),
        "falses": sorted({c.strip(BLANKS).lower() for c in mapping.false_codes}),
    }
    row = quote_ident("_row")
    trimmed_layer, cleaned, translated, canonical = [], [], [], []
    for index, field in enumerate(plan.dataset.fields):
        name = quote_ident(field.name)
        source = plan.sources[field.name]
        if source is None:
            trimmed_layer.append(f"CAST(NULL AS VARCHAR) AS {name}")
        else:
            trimmed_layer.append(f"NULLIF(trim({quote_ident(source)}, $blanks), '') AS {name}")
        cleaned.append(
            f"CASE WHEN list_contains($missing, lower({name})) THEN NULL ELSE {name} END AS {name}"
        )
        codes = mapping.codes.get(field.name)
        if codes:
            params[f"from_{index}"] = [k.strip(BLANKS).lower() for k in codes]
            params[f"to_{index}"] = [v.strip(BLANKS) for v in codes.values()]
            translated.append(
                f"NULLIF(coalesce(list_extract($to_{index}, list_position($from_{index}, "
                f"lower({name}))), {name}), '') AS {name}"
            )
        else:
            translated.append(name)
        if field.type is FieldType.BOOLEAN:
            canonical.append(
                f"CASE WHEN list_contains($trues, lower({name})) THEN 'true' "
                f"WHEN list_contains($falses, lower({name})) THEN 'false' ELSE {name} END AS {name}"
            )
        elif field.type is FieldType.CATEGORY and field.codes:
            params[f"codes_{index}"] = list(field.codes)
            params[f"lower_{index}"] = [c.lower() for c in field.codes]
            canonical.append(
                f"coalesce(list_extract($codes_{index}, list_position($lower_{index}, "
                f"lower({name}))), {name}) AS {name}"
            )
        elif field.type is FieldType.CODE:
            canonical.append(
                f"CASE WHEN regexp_full_match({name}, '[0-9]+\\.0+') "
                f"THEN split_part({name}, '.', 1) ELSE {name} END AS {name}"
            )
        else:
            canonical.append(name)
    query = f"SELECT {row}, {', '.join(trimmed_layer)} FROM {relation}"
    query = f"SELECT {row}, {', '.join(cleaned)} FROM ({query})"
    query = f"SELECT {row}, {', '.join(translated)} FROM ({query})"
    query = f"SELECT {row}, {', '.join(canonical)} FROM ({query})"
    return query, params
