"""``synthesise``: a whole synthetic partnership area on disk, with its ground truth.

One call draws the area (schools, pupils, service flags, survey answers), writes each provider's
file in its usual format with realistic problems planted, the mapping file that reads them, the
clean canonical tables as Parquet, and the ground truth (per pupil, per school, per file row, per
planted problem). Each stage draws from its own stream of one seed, so a seed reproduces the area
exactly: the Parquet bytes, and the content of every provider file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from linkwell.config import ColumnMapping, SourceKind
from linkwell.errors import ConfigError
from linkwell.fileio import write_text_atomic
from linkwell.progress import SILENT, Progress, ProgressTask
from linkwell.schema.ids import issue_ids_seeded
from linkwell.synth.calibration import calibrate
from linkwell.synth.latent import take_part
from linkwell.synth.mess import MessKind, MessRates, PlantedFile, plant
from linkwell.synth.parameters import SynthParameters
from linkwell.synth.population import COUNCIL_CODES, MIN_PUPILS_PER_AUTHORITY, generate_population
from linkwell.synth.provider import FileFormat, SourceRole, layout_for, mapping_for
from linkwell.synth.services import draw_services
from linkwell.synth.survey import draw_answers
from linkwell.synth.tables import Area, source_tables, truth_table
from linkwell.synth.writers import (
    first_data_row,
    write_mapping,
    write_parquet,
    write_provider_file,
)

__all__ = ["MAX_CHILDREN", "SourceFile", "SynthFormats", "SynthResult", "TruthFiles", "synthesise"]

MAX_CHILDREN: Final = 10_000_000
"""Most pupils one call makes: Scotland has about 400,000 in P5-S4, England's census about 9
million; the benchmarks go to national scale (about 1.3 KB of memory per pupil while drawing)."""

_MANIFEST: Final = "manifest.json"
_MAPPING: Final = "mapping.toml"
_SURVEYS: Final = 2
_STREAMS: Final = ("population", "services", "participation", "survey", "ids", "extract", "mess")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SynthFormats(_Model):
    """The format of each provider's file; an extract too big for a spreadsheet becomes CSV."""

    secondary: FileFormat = FileFormat.CSV
    primary: FileFormat = FileFormat.SAV
    authority: FileFormat = FileFormat.XLSX
    xlsx_max_rows: int = Field(
        100_000,
        ge=1,
        le=1_048_575,
        description="Largest extract written as .xlsx: openpyxl writes roughly 100,000 cells a "
        "second, so a bigger one would take minutes (a sheet holds 1,048,575 rows at most).",
    )

    @classmethod
    def every(cls, file_format: FileFormat) -> SynthFormats:
        """The same format for every provider file."""
        return cls(secondary=file_format, primary=file_format, authority=file_format)

    def of(self, role: SourceRole) -> FileFormat:
        """The format asked for ``role``'s file."""
        return {
            SourceRole.SECONDARY: self.secondary,
            SourceRole.PRIMARY: self.primary,
            SourceRole.AUTHORITY: self.authority,
        }[role]


class SourceFile(_Model):
    """One provider file: which source, which dataset, where, and its clean Parquet twin."""

    source: str
    kind: SourceKind
    dataset: str
    dataset_version: int
    authority_code: str | None
    path: Path
    format: FileFormat
    rows: int
    canonical: Path


class TruthFiles(_Model):
    """The ground truth: per pupil, per school, per provider-file row, per planted problem."""

    pupils: Path
    schools: Path
    rows: Path
    mess: Path
    manifest: Path


class SynthResult(_Model):
    """What :func:`synthesise` wrote, and how much of it."""

    out_dir: Path
    seed: int
    children: int
    respondents: int
    authorities: tuple[str, ...]
    sources: tuple[SourceFile, ...]
    mapping: Path
    truth: TruthFiles
    mess: dict[MessKind, int]
    notes: tuple[str, ...]
    parameters_digest: str


def _check_arguments(children: int, seed: int, authorities: int) -> None:
    if not 1 <= authorities <= len(COUNCIL_CODES):
        raise ConfigError(
            "the number of authorities must be between 1 and 32",
            field="authorities",
            hint="Scotland has 32 council areas; use --authorities 1 to 32",
        )
    fewest = MIN_PUPILS_PER_AUTHORITY * authorities
    if not fewest <= children <= MAX_CHILDREN:
        raise ConfigError(
            f"the number of children must be between {fewest} and {MAX_CHILDREN}",
            field="children",
            hint=f"each authority needs at least {MIN_PUPILS_PER_AUTHORITY} pupils",
        )
    if seed < 0:
        raise ConfigError(
            "the seed must be zero or a positive integer",
            field="seed",
            hint="use any non-negative number; the same seed makes the same area",
        )


def _prepare(out_dir: Path, *, overwrite: bool) -> None:
    """Make ``out_dir`` ready: empty, or an earlier synthetic area that may be replaced."""
    if not out_dir.exists():
        out_dir.mkdir(parents=True)
        return
    if not out_dir.is_dir():
        raise ConfigError("the output path is not a folder", file=out_dir, hint="choose a folder")
    if not any(out_dir.iterdir()):
        return
    manifest = out_dir / "truth" / _MANIFEST
    if not overwrite:
        raise ConfigError(
            "the output folder is not empty",
            file=out_dir,
            hint="choose an empty folder, or pass --force to replace an earlier synthetic area",
        )
    if not manifest.is_file():
        raise ConfigError(
            "the output folder is not empty and holds no earlier synthetic area",
            file=out_dir,
            hint="choose an empty folder; linkwell only replaces folders it wrote itself",
        )
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            "the earlier synthetic area's manifest cannot be read",
            file=manifest,
            hint="remove the folder yourself, or choose another one",
        ) from exc
    root = out_dir.resolve()
    for relative in listed:
        target = (out_dir / relative).resolve()
        if target.is_relative_to(root):
            target.unlink(missing_ok=True)
    for folder in ("canonical", "truth"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)


_ROLES: Final = {
    "survey-secondary": SourceRole.SECONDARY,
    "survey-primary": SourceRole.PRIMARY,
    "authority": SourceRole.AUTHORITY,
}


def _draw_area(
    children: int,
    authorities: int,
    params: SynthParameters,
    streams: dict[str, np.random.Generator],
) -> Area:
    """Draw schools, pupils, flags, participation, answers and IDs."""
    calibration = calibrate(params)
    population = generate_population(children, authorities, params.structure, streams["population"])
    services = draw_services(population.pupils, params.authority, streams["services"])
    respondents = take_part(population.pupils, services, params.survey, streams["participation"])
    answers = draw_answers(
        population.pupils,
        services,
        respondents,
        params=params.survey,
        calibration=calibration,
        rng=streams["survey"],
    )
    ids = issue_ids_seeded(children, streams["ids"])
    return Area(population, services, respondents, answers, ids)


def _records_table(
    planted: PlantedFile, area: Area, source: str, file: str, first: int
) -> pa.Table:
    """The problems planted in one file, with row numbers as the file's reader counts them."""
    records = planted.records
    lengths = [len(p) for p in records.position]
    positions = (
        np.concatenate(records.position) if records.position else np.empty(0, dtype=np.int64)
    )
    count = len(positions)
    batch = np.repeat(np.arange(len(lengths)), lengths)
    return pa.table(
        {
            "source": _repeated([source], np.zeros(count, np.int32)),
            "file": _repeated([file], np.zeros(count, np.int32)),
            "row": pa.array(positions + first, pa.int64()),
            "field": _repeated(records.field, batch),
            "column": _repeated(records.column, batch),
            "kind": _repeated([k.value for k in records.kind], batch),
            "detail": _repeated(records.detail, batch),
            "unique_id": pa.array(area.ids[planted.table.pupils[positions]], pa.string()),
        },
        schema=_MESS_SCHEMA,
    )


def _repeated(values: Sequence[str | None], index: npt.NDArray[np.integer]) -> pa.Array:
    """``values[index]`` as a plain string array, built without a Python loop over rows."""
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(index.astype(np.int32), pa.int32()), pa.array(list(values), pa.string())
    )
    return dictionary.cast(pa.string())


_MESS_SCHEMA: Final = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("field", pa.string()),
        ("column", pa.string()),
        ("kind", pa.string()),
        ("detail", pa.string()),
        ("unique_id", pa.string()),
    ]
)


def _rows_table(planted: PlantedFile, area: Area, source: str, file: str, first: int) -> pa.Table:
    """Which pupil each row of one provider file describes."""
    count = len(planted.table)
    return pa.table(
        {
            "source": _repeated([source], np.zeros(count, np.int32)),
            "file": _repeated([file], np.zeros(count, np.int32)),
            "row": pa.array(np.arange(count, dtype=np.int64) + first, pa.int64()),
            "unique_id": pa.array(area.ids[planted.table.pupils], pa.string()),
        }
    )


def _schools_table(area: Area) -> pa.Table:
    schools = area.population.schools
    codes = np.asarray(area.population.authority_codes)
    return pa.table(
        {
            "school": pa.array(schools.code, pa.string()),
            "authority": pa.array(codes[schools.authority], pa.string()),
            "sector": pa.array(np.where(schools.secondary, "secondary", "primary"), pa.string()),
            "rural": pa.array(schools.rural, pa.bool_()),
            "urban_rural": pa.array(schools.urban_rural, pa.int8()),
            "roll": pa.array(schools.roll, pa.int32()),
            "pupils": pa.array(schools.pupils, pa.int32()),
        }
    )


@dataclass(frozen=True)
class _Written:
    """One provider file written: its description, rows, problems and any note about it."""

    source: SourceFile
    rows: pa.Table
    mess: pa.Table
    note: str | None


def _write_sources(
    area: Area,
    in_extract: npt.NDArray[np.bool_],
    out_dir: Path,
    *,
    mess: MessRates,
    formats: SynthFormats,
    rng: np.random.Generator,
    task: ProgressTask,
) -> list[_Written]:
    """Plant problems in every provider file and write it, its clean twin and the mapping."""
    written = []
    mappings: dict[str, ColumnMapping] = {}
    for clean in source_tables(area):
        role = _ROLES[clean.dataset.id]
        layout = layout_for(role, clean.dataset, provider_coding=mess.provider_coding)
        sent = clean
        if role is SourceRole.AUTHORITY:
            sent = clean.take(np.flatnonzero(in_extract[clean.pupils]))
        school = area.population.pupils.school[sent.pupils]
        planted = plant(sent, layout, mess, rng, school=school)
        if role is not SourceRole.AUTHORITY:
            absent = np.flatnonzero(~in_extract[planted.table.pupils])
            planted.records.add(
                absent, "unique_id", layout.column("unique_id").name, MessKind.NOT_IN_EXTRACT
            )
        file_format, note = formats.of(role), None
        if file_format is FileFormat.XLSX and len(planted.table) > formats.xlsx_max_rows:
            file_format = FileFormat.CSV
            note = (
                f"{clean.name}: {len(planted.table)} rows is more than the {formats.xlsx_max_rows}"
                " written as .xlsx, so the extract was written as CSV instead"
            )
        path = out_dir / f"{clean.name}.{file_format.value}"
        write_provider_file(planted, clean.dataset, path, file_format)
        canonical = out_dir / "canonical" / f"{clean.name}.parquet"
        write_parquet(clean.to_arrow(), canonical)
        mappings[clean.name] = mapping_for(layout, clean.dataset, file_format)
        first = first_data_row(file_format)
        source = SourceFile(
            source=clean.name,
            kind=clean.dataset.kind,
            dataset=clean.dataset.id,
            dataset_version=clean.dataset.version,
            authority_code=clean.authority_code,
            path=path,
            format=file_format,
            rows=len(planted.table),
            canonical=canonical,
        )
        written.append(
            _Written(
                source=source,
                rows=_rows_table(planted, area, clean.name, path.name, first),
                mess=_records_table(planted, area, clean.name, path.name, first),
                note=note,
            )
        )
        task.advance()
    write_mapping(mappings, out_dir / _MAPPING)
    return written


def _truth_files(out_dir: Path) -> TruthFiles:
    folder = out_dir / "truth"
    return TruthFiles(
        pupils=folder / "pupils.parquet",
        schools=folder / "schools.parquet",
        rows=folder / "rows.parquet",
        mess=folder / "mess.parquet",
        manifest=folder / _MANIFEST,
    )


def _write_truth(
    area: Area, in_extract: npt.NDArray[np.bool_], out_dir: Path, files: list[_Written]
) -> TruthFiles:
    truth = _truth_files(out_dir)
    write_parquet(truth_table(area, in_extract=in_extract), truth.pupils)
    write_parquet(_schools_table(area), truth.schools)
    write_parquet(pa.concat_tables([f.rows for f in files]), truth.rows)
    problems = pa.concat_tables([f.mess for f in files])
    problems = problems.sort_by(
        [("file", "ascending"), ("row", "ascending"), ("field", "ascending")]
    )
    write_parquet(problems, truth.mess)
    return truth


def _mess_counts(files: list[_Written]) -> dict[MessKind, int]:
    counts = dict.fromkeys(MessKind, 0)
    for written in files:
        for kind, number in Counter(written.mess.column("kind").to_pylist()).items():
            counts[MessKind(kind)] += number
    return counts


def _write_manifest(
    result: SynthResult, params: SynthParameters, mess: MessRates, formats: SynthFormats
) -> None:
    """Record what was made and how, with relative paths and checksums; written last."""
    root = result.out_dir
    files = sorted(p for p in root.rglob("*") if p.is_file() and p != result.truth.manifest)
    described = json.loads(result.model_dump_json())
    for source in described["sources"]:
        source["path"] = Path(source["path"]).relative_to(root).as_posix()
        source["canonical"] = Path(source["canonical"]).relative_to(root).as_posix()
    for key in ("out_dir", "mapping", "truth"):
        described.pop(key)
    manifest = {
        "format": 1,
        "made_by": "linkwell synth",
        **described,
        "parameters": json.loads(params.model_dump_json()),
        "mess_rates": json.loads(mess.model_dump_json()),
        "formats": json.loads(formats.model_dump_json()),
        "sha256": {p.relative_to(root).as_posix(): _sha256(p) for p in files},
    }
    write_text_atomic(result.truth.manifest, json.dumps(manifest, indent=2) + "\n")


def load_synthesis(out_dir: Path) -> SynthResult:
    """The :class:`SynthResult` of an area written earlier into ``out_dir``, from its manifest."""
    truth = _truth_files(out_dir)
    manifest = truth.manifest
    try:
        described = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "not a synthetic area: its truth/manifest.json cannot be read",
            file=manifest,
            hint="give the folder `linkwell synth --out` wrote",
        ) from exc
    for source in described["sources"]:
        source["path"] = out_dir / source["path"]
        source["canonical"] = out_dir / source["canonical"]
    fields = set(SynthResult.model_fields)
    kept = {k: v for k, v in described.items() if k in fields}
    return SynthResult.model_validate(
        {**kept, "out_dir": out_dir, "mapping": out_dir / _MAPPING, "truth": truth}
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def synthesise(
    out_dir: Path,
    *,
    children: int,
    seed: int,
    authorities: int = 1,
    mess: MessRates | None = None,
    formats: SynthFormats | None = None,
    parameters: SynthParameters | None = None,
    overwrite: bool = False,
    progress: Progress = SILENT,
) -> SynthResult:
    """Write a synthetic partnership area of ``children`` pupils in P5-S4 into ``out_dir``.

    Args:
        out_dir: an empty or new folder (or, with ``overwrite``, an earlier synthetic area).
        children: pupils in the area, across ``authorities`` authorities.
        seed: the same seed, parameters and options give the same area.
        authorities: how many local authorities share the area (1-32), each with its extract.
        mess: rates of planted problems; :meth:`MessRates.clean` for none.
        formats: the format of each provider's file.
        parameters: the rates and targets the area is drawn from (the parameter sheet's).
        overwrite: replace an earlier synthetic area in ``out_dir``.
        progress: where to report progress.
    """
    mess = mess or MessRates()
    formats = formats or SynthFormats()
    params = parameters or SynthParameters()
    _check_arguments(children, seed, authorities)
    _prepare(out_dir, overwrite=overwrite)
    spawned = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    streams = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, spawned, strict=True)}
    steps = 2 + _SURVEYS + authorities  # draw the area, each provider file, the truth
    with progress.task("synthesising the area", total=steps) as task:
        area = _draw_area(children, authorities, params, streams)
        task.advance()
        leaves = streams["extract"].random(children) < mess.missing_from_extract
        in_extract = ~(area.respondents & leaves)
        files = _write_sources(
            area,
            in_extract,
            out_dir,
            mess=mess,
            formats=formats,
            rng=streams["mess"],
            task=task,
        )
        truth = _write_truth(area, in_extract, out_dir, files)
        task.advance()
    result = SynthResult(
        out_dir=out_dir,
        seed=seed,
        children=children,
        respondents=int(area.respondents.sum()),
        authorities=area.population.authority_codes,
        sources=tuple(f.source for f in files),
        mapping=out_dir / _MAPPING,
        truth=truth,
        mess=_mess_counts(files),
        notes=tuple(f.note for f in files if f.note),
        parameters_digest=params.digest(),
    )
    _write_manifest(result, params, mess, formats)
    return result
