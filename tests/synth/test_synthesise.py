"""``synthesise`` end to end: reproducible for a seed, safe with folders, truthful about itself."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pyreadstat
import pytest

from linkwell.errors import ConfigError
from linkwell.synth import FileFormat, MessKind, SynthFormats, SynthResult, synthesise
from linkwell.synth.calibration import _cached
from tests.synth.conftest import read_raw


def _parquet_files(result: SynthResult) -> dict[str, bytes]:
    root = result.out_dir
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.parquet")}


def test_the_same_seed_makes_the_same_area(tmp_path: Path) -> None:
    first = synthesise(tmp_path / "a", children=800, seed=5, authorities=2)
    _cached.cache_clear()  # as in a fresh process: calibration is recomputed, not reused
    second = synthesise(tmp_path / "b", children=800, seed=5, authorities=2)
    assert _parquet_files(first) == _parquet_files(second)  # byte-identical truth and tables
    for one, two in zip(first.sources, second.sources, strict=True):
        assert one.path.name == two.path.name
        if one.format is FileFormat.CSV:
            assert one.path.read_bytes() == two.path.read_bytes()
        assert read_raw(one.path, one.format, "Pupils") == read_raw(two.path, two.format, "Pupils")
        if one.format is FileFormat.SAV:
            meta = [pyreadstat.read_sav(p)[1] for p in (one.path, two.path)]
            assert meta[0].variable_value_labels == meta[1].variable_value_labels
    assert first.mapping.read_bytes() == second.mapping.read_bytes()
    other = synthesise(tmp_path / "c", children=800, seed=6, authorities=2)
    assert (
        _parquet_files(other)["truth/pupils.parquet"]
        != _parquet_files(first)["truth/pupils.parquet"]
    )


def test_result_and_manifest_describe_what_was_written(messy_area: SynthResult) -> None:
    truth = pq.read_table(messy_area.truth.pupils)
    assert truth.num_rows == messy_area.children
    assert sum(truth.column("participated").to_pylist()) == messy_area.respondents
    rows = pq.read_table(messy_area.truth.rows).to_pylist()
    for source in messy_area.sources:
        assert sum(1 for r in rows if r["source"] == source.source) == source.rows
        assert source.path.exists()
        assert source.canonical.exists()
    mess = pq.read_table(messy_area.truth.mess).to_pylist()
    for kind in MessKind:
        assert messy_area.mess[kind] == sum(1 for m in mess if m["kind"] == kind.value)
    manifest = json.loads(messy_area.truth.manifest.read_text(encoding="utf-8"))
    root = messy_area.out_dir
    for relative, digest in manifest["sha256"].items():
        assert hashlib.sha256((root / relative).read_bytes()).hexdigest() == digest
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert written == set(manifest["sha256"]) | {"truth/manifest.json"}
    assert manifest["seed"] == 11
    assert manifest["parameters_digest"] == messy_area.parameters_digest
    assert {s["path"] for s in manifest["sources"]} == {s.path.name for s in messy_area.sources}


def test_canonical_tables_hold_the_truth(messy_area: SynthResult) -> None:
    truth = {r["unique_id"]: r for r in pq.read_table(messy_area.truth.pupils).to_pylist()}
    for source in messy_area.sources:
        table = pq.read_table(source.canonical).to_pylist()
        if source.kind.value == "authority":
            expected = {u for u, p in truth.items() if p["authority"] == source.authority_code}
        else:
            expected = {
                u for u, p in truth.items() if p["participated"] and p["survey"] == source.source
            }
        assert {r["unique_id"] for r in table} == expected
        for record in table[:300]:
            pupil = truth[record["unique_id"]]
            for field, value in record.items():
                if field not in ("weight", "sex"):
                    assert value == pupil[field], (source.source, field)
            if source.kind.value == "survey":
                assert record["sex"] == pupil["reported_sex"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"children": 10, "seed": 1}, "children"),
        ({"children": 120, "seed": 1, "authorities": 3}, "children"),
        ({"children": 1000, "seed": 1, "authorities": 0}, "authorities"),
        ({"children": 5000, "seed": 1, "authorities": 33}, "authorities"),
        ({"children": 1000, "seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        synthesise(tmp_path / "area", **kwargs)
    assert caught.value.field == field
    assert caught.value.hint
    assert not (tmp_path / "area").exists()


def test_folders_are_never_overwritten_by_surprise(tmp_path: Path) -> None:
    out = tmp_path / "area"
    synthesise(out, children=400, seed=1, authorities=2)
    with pytest.raises(ConfigError, match="not empty"):
        synthesise(out, children=400, seed=1)
    again = synthesise(out, children=400, seed=2, overwrite=True)
    assert len(list(out.glob("authority-*"))) == 1  # the earlier second extract is gone
    assert again.truth.manifest.exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="no earlier synthetic area"):
        synthesise(foreign, children=400, seed=1, overwrite=True)
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a folder"):
        synthesise(a_file, children=400, seed=1)


class _Recorder:
    def __init__(self) -> None:
        self.tasks: list[tuple[str, float | None]] = []
        self.done = 0.0

    @contextmanager
    def task(self, description: str, *, total: float | None = None):
        self.tasks.append((description, total))

        class _Task:
            def advance(_self, amount: float = 1) -> None:  # noqa: N805
                self.done += amount

        yield _Task()


def test_progress_is_reported(tmp_path: Path) -> None:
    recorder = _Recorder()
    synthesise(
        tmp_path / "area",
        children=300,
        seed=1,
        formats=SynthFormats.every(FileFormat.PARQUET),
        progress=recorder,
    )
    assert recorder.tasks
    assert recorder.tasks[0][1] == 5  # the area, two surveys, one extract, the truth
    assert recorder.done == recorder.tasks[0][1]
