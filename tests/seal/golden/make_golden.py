"""Regenerate the golden package (run by hand, only when the format version changes).

    .venv/bin/python -m tests.seal.golden.make_golden

It makes five test-only identities, a project file listing their cards, and one content package
from ``ipsos`` to ``edris`` with a parent and a signed log head, then writes the two secret
identities the tests need (marked test-only), the package and its manifest bytes. The committed
files pin the format: a release that cannot open them, or encodes their manifest differently,
has changed the format without a new version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from linkwell.audit import LogHead, sign_head
from linkwell.config import ProjectConfig, Role
from linkwell.seal import DatasetRef, PackageKind, new_identity, seal_package
from linkwell.seal._layout import FOOTER_LENGTH
from linkwell.seal.identity import SECRET_TEXT_FIRST_LINE

HERE = Path(__file__).resolve().parent
CREATED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
PARENT = "0123456789abcdef0123456789abcdef"
ROLES = {
    "ipsos": Role.SURVEY_PROVIDER,
    "fife": Role.AUTHORITY_PROVIDER,
    "nrs": Role.INDEXER,
    "edris": Role.LINKER,
    "scotcen": Role.ANALYST,
}
TEST_ONLY = "# TEST-ONLY KEY committed for the golden package tests: never use it for real data."


def golden_table() -> pa.Table:
    """The golden payload: synthetic row references and two content fields of its dataset."""
    return pa.table(
        {
            "row_ref": pa.array(["r0001", "r0002", "r0003", "r0004", "r0005"]),
            "young_carer": pa.array([False, True, False, False, True]),
            "sdq_01": pa.array([1, 10, 5, 3, 7], type=pa.int8()),
        }
    )


def main() -> None:
    identities = {
        name: new_identity(name, role, now=CREATED - timedelta(days=30))
        for name, role in ROLES.items()
    }
    data = {
        "project": {"id": "rcs-golden", "wave": 1, "package_ttl_days": 30},
        "transport": {"kind": "folder", "root": "exchange"},
        "parties": [
            {
                "name": name,
                "role": role.value,
                "organisation": name,
                "identities": [identities[name].card().model_dump(mode="json")],
            }
            for name, role in ROLES.items()
        ],
        "sources": [
            {
                "name": "secondary",
                "kind": "survey",
                "dataset": "survey-secondary",
                "dataset_version": 1,
                "provider": "ipsos",
            },
            {
                "name": "fife",
                "kind": "authority",
                "dataset": "authority",
                "dataset_version": 1,
                "provider": "fife",
                "authority_code": "S12000047",
            },
        ],
    }
    project = ProjectConfig.model_validate(data)
    (HERE / "project.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    for name in ("ipsos", "edris"):
        text = identities[name].secret_text()
        text = text.replace(
            SECRET_TEXT_FIRST_LINE + "\n", f"{SECRET_TEXT_FIRST_LINE}\n{TEST_ONLY}\n"
        )
        (HERE / f"{name}.identity.txt").write_text(text, encoding="utf-8")
    payload = HERE / "payload.tmp.parquet"
    pq.write_table(golden_table(), payload)
    head = sign_head(
        LogHead(party="ipsos", sequence=3, entry_hash="ab" * 32, time=CREATED),
        identities["ipsos"].signing_key,
    )
    seal_package(
        payload,
        project=project,
        sender=identities["ipsos"],
        recipient="edris",
        kind=PackageKind.CONTENT,
        source="secondary",
        dataset=DatasetRef(id="survey-secondary", version=1),
        parents=(PARENT,),
        log_head=head,
        dest=HERE / "package.lwpkg",
        now=CREATED,
    )
    payload.unlink()
    package = (HERE / "package.lwpkg").read_bytes()
    manifest_size = int(package[-9:-1])
    start = len(package) - FOOTER_LENGTH - 90 - manifest_size
    (HERE / "manifest.json").write_bytes(package[start : start + manifest_size])


if __name__ == "__main__":
    main()
