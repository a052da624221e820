"""Opening a release: refusals name the file and field but never a value; scoring and weights."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.analysis.source import prepare_release
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine
from linkwell.errors import ReadError, SeparationError, ValidationError

from .conftest import make_release_table, tiny_release


def _prepare(path: Path):
    with Engine() as engine:
        return prepare_release(engine, path, DisclosurePolicy())


def test_an_identifier_column_is_refused_without_quoting_it(tmp_path: Path) -> None:
    table = make_release_table(20).append_column("unique_id", pa.array(["4839201175"] * 20))
    pq.write_table(table, tmp_path / "r.parquet")
    with pytest.raises(SeparationError) as info:
        _prepare(tmp_path / "r.parquet")
    assert info.value.field == "unique_id"
    assert info.value.file == str(tmp_path / "r.parquet")
    assert "4839201175" not in str(info.value)


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    pq.write_table(make_release_table(20).drop_columns(["stage"]), tmp_path / "r.parquet")
    with pytest.raises(ValidationError) as info:
        _prepare(tmp_path / "r.parquet")
    assert info.value.field == "stage"
    assert info.value.hint


@pytest.mark.parametrize("column", ["school", "authority"])
def test_a_code_a_spreadsheet_would_run_is_refused_with_its_row(
    tmp_path: Path, column: str
) -> None:
    """A release whose provider skipped validation cannot put a formula in the tables."""
    table = make_release_table(20)
    codes = table.column(column).to_pylist()
    codes[6] = "=HYPERLINK(1)"
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(codes))
    pq.write_table(table, tmp_path / "r.parquet")
    with pytest.raises(ValidationError) as info:
        _prepare(tmp_path / "r.parquet")
    assert (info.value.field, info.value.row) == (column, 7)
    assert info.value.hint
    assert "HYPERLINK" not in str(info.value) + repr(info.value.__dict__)


def test_empty_and_unreadable_releases(tmp_path: Path) -> None:
    pq.write_table(make_release_table(5).slice(0, 0), tmp_path / "empty.parquet")
    with pytest.raises(ValidationError, match="no rows"):
        _prepare(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet at all")
    with pytest.raises(ReadError):
        _prepare(tmp_path / "junk.parquet")


def test_weights_are_used_only_when_complete(tmp_path: Path) -> None:
    assert _prepare(tiny_release(tmp_path / "a.parquet", [{"weight": 1.5}])).weighted
    partial = tiny_release(tmp_path / "b.parquet", [{"weight": 1.5}, {"weight": None}])
    assert _prepare(partial).weighting == "unweighted (weights incomplete)"
    assert _prepare(tiny_release(tmp_path / "c.parquet", [{}])).weighting == "unweighted"


def test_measures_nobody_answered_are_dropped(tmp_path: Path) -> None:
    rows = [{"survey": "primary", "stage": "P6", "bullied": 4, "mood_01": 3}]
    names = {n.name for n in _prepare(tiny_release(tmp_path / "p.parquet", rows)).needs}
    assert "bullied_weekly" in names
    assert "sdq_total_abnormal" not in names


def test_resolutions_follow_the_columns(weighted_release_path: Path, release_path: Path) -> None:
    coarse = _prepare(weighted_release_path)
    assert (coarse.simd, coarse.urban_rural, coarse.weighted) == ("quintile", 6, True)
    fine = _prepare(release_path)
    assert (fine.simd, fine.urban_rural, fine.authorities) == ("decile", 8, 2)


def _analysis_rows(path: Path) -> list[tuple[object, ...]]:
    with Engine() as engine:
        prepare_release(engine, path, DisclosurePolicy())
        return engine.fetchall("SELECT * FROM analysis ORDER BY ALL", purpose="read")


def test_a_release_re_saved_with_whole_numbers_as_floats_is_scored_the_same(
    tmp_path: Path,
) -> None:
    """Integer arithmetic on a float column would prorate scales into other needs unseen."""
    table = make_release_table(400)
    pq.write_table(table, tmp_path / "as-sealed.parquet")
    floats = pa.table(
        {
            name: column.cast(pa.float64()) if pa.types.is_integer(column.type) else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )
    assert any(pa.types.is_floating(t) for t in floats.schema.types)
    pq.write_table(floats, tmp_path / "re-saved.parquet")
    assert _analysis_rows(tmp_path / "re-saved.parquet") == _analysis_rows(
        tmp_path / "as-sealed.parquet"
    )


@pytest.mark.parametrize(("value", "column"), [(1.5, "sdq_03"), (11.0, "simd_decile")])
def test_a_fraction_or_a_value_out_of_range_is_refused_with_its_row(
    tmp_path: Path, value: float, column: str
) -> None:
    table = make_release_table(50)
    index = table.schema.get_field_index(column)
    values = table.column(column).cast(pa.float64()).to_pylist()
    values[7] = value
    pq.write_table(
        table.set_column(index, column, pa.array(values, pa.float64())), tmp_path / "r.parquet"
    )
    with pytest.raises(ValidationError, match="not a whole number") as info:
        _prepare(tmp_path / "r.parquet")
    assert (info.value.field, info.value.row) == (column, 8)
    assert str(value) not in str(info.value)
