"""A package carries only what its kind may, judged from the signed manifest before decryption:
never survey answers to the indexer, never a survey ID to the linker or analyst."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkwell.seal.package
from linkwell.errors import PackageFormatError, SchemaError
from linkwell.seal import DatasetRef, PackageKind, ReceiptLedger, open_package
from linkwell.seal.shapes import payload_shape_problem
from tests.imports import modules_loaded_by
from tests.seal.conftest import NOW, Sealer, World, listing, write_shaped


class Overreach(NamedTuple):
    """A kind's payload with a column its receiver must never hold."""

    sender: str
    recipient: str
    kind: PackageKind
    source: str | None
    extra: dict[str, list[object]]


ID = ["4839201175"]
OVERREACH = [
    Overreach("ipsos", "nrs", PackageKind.IDENTIFIERS, "secondary", {"sdq_01": [3, 1]}),
    Overreach("ipsos", "edris", PackageKind.CONTENT, "secondary", {"unique_id": ID * 20}),
    Overreach("ipsos", "fife", PackageKind.PARTICIPANTS, "secondary", {"sdq_01": [3]}),
    Overreach("nrs", "edris", PackageKind.LINKAGE_KEY, None, {"unique_id": ID}),
    Overreach("edris", "scotcen", PackageKind.RELEASE, None, {"unique_id": ID}),
    Overreach("nrs", "edris", PackageKind.REPORT, None, {"unique_id": ID}),
]
IDS = [case.kind.value for case in OVERREACH]


def _payload(tmp_path: Path, case: Overreach) -> Path:
    path, _dataset = write_shaped(tmp_path / f"{case.kind.value}.parquet", case.kind)
    table = pq.read_table(path)
    for name, values in case.extra.items():
        table = table.append_column(name, pa.array(values))
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("case", OVERREACH, ids=IDS)
def test_a_payload_beyond_its_kind_is_not_sealed(
    seal: Sealer, tmp_path: Path, case: Overreach
) -> None:
    payload = _payload(tmp_path, case)
    (tmp_path / "outbox").mkdir()
    with pytest.raises(SchemaError, match=next(iter(case.extra))) as refused:
        seal(case.sender, case.recipient, case.kind, source=case.source, source_file=payload)
    assert refused.value.file == str(payload)
    assert listing(tmp_path / "outbox") == []


@pytest.mark.parametrize("case", OVERREACH, ids=IDS)
def test_a_package_beyond_its_kind_is_refused_undecrypted(
    seal: Sealer, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Overreach
) -> None:
    payload = _payload(tmp_path, case)
    # A sender whose linkwell was altered, or is older than this check, seals it all the same.
    monkeypatch.setattr(linkwell.seal.package, "payload_shape_problem", lambda *_: None)
    package, _ = seal(
        case.sender, case.recipient, case.kind, source=case.source, source_file=payload
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with ReceiptLedger(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(PackageFormatError) as refused:
            open_package(
                package,
                project=world.project,
                identities=world.identities[case.recipient],
                ledger=ledger,
                dest=inbox / "payload.parquet",
                now=NOW,
            )
        assert ledger.receipts() == ()
    assert "was not decrypted" in str(refused.value)
    assert next(iter(case.extra)) in str(refused.value)
    assert listing(inbox) == []  # no plaintext, not even a partial file


def test_every_kind_the_flow_makes_passes(world: World, tmp_path: Path) -> None:
    for kind in PackageKind:
        path, dataset = write_shaped(tmp_path / f"{kind.value}.parquet", kind)
        columns = pq.read_schema(path).names
        assert payload_shape_problem(kind, dataset, columns, world.project) is None, kind


def test_content_of_an_unknown_dataset_is_refused(world: World) -> None:
    unknown = DatasetRef(id="survey-secondary", version=99)
    problem = payload_shape_problem(PackageKind.CONTENT, unknown, ["row_ref"], world.project)
    assert problem is not None
    assert "unknown dataset" in problem


def test_sealing_loads_no_database_engine() -> None:
    # Judging a package's shape needs the dataset definitions, not the readers: every package
    # command (and the memory bound of a package's opening) would carry DuckDB otherwise.
    loaded = modules_loaded_by("linkwell.seal")
    assert "linkwell.seal.shapes" in loaded
    assert "duckdb" not in loaded
    assert "linkwell.schema.readers" not in loaded
