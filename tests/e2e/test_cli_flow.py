"""The five parties through the command line, each in its own workspace, against the truth.

The project file is written the way a coordinator would assemble it (the parties' cards plus
the sources and their mappings); every other step is a ``linkwell`` command run by the party
whose workspace it names.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from linkwell.analysis import pipeline
from linkwell.cli import main
from linkwell.config import FolderTransport
from linkwell.demo import demo_parties, write_project_file
from linkwell.engine import Engine
from linkwell.report import ReportBundle
from linkwell.seal import PackageKind
from linkwell.synth import SynthResult, load_synthesis
from linkwell.workspace import Opened, Workspace

from .truth import assert_release_is_the_truth


@dataclass
class CliRun:
    root: Path
    synthetic: SynthResult
    workspaces: dict[str, Path]
    outputs: dict[str, str]


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("cli")
    runner = CliRunner()
    area = root / "area"
    _ok(
        runner.invoke(
            main, ["synth", "--children", "1500", "--seed", "11", "--clean", "--out", str(area)]
        )
    )
    synthetic = load_synthesis(area)
    parties = demo_parties(synthetic)
    cards, workspaces = {}, {}
    for party in parties:
        secret = root / f"{party.name}.passphrase"
        secret.write_text(f"correct horse battery {party.name}\n")
        secret.chmod(0o600)
        keys = root / f"{party.name}-keys"
        _ok(
            runner.invoke(
                main,
                [
                    "keys",
                    "new",
                    "--party",
                    party.name,
                    "--role",
                    party.role.value,
                    "--out",
                    str(keys),
                    "--passphrase-file",
                    str(secret),
                ],
            )
        )
        cards[party.name] = keys / "card.toml"
    project = root / "project.toml"
    write_project_file(
        project,
        synthetic=synthetic,
        parties=parties,
        cards=cards,
        transport=FolderTransport(root=root / "exchange"),
    )
    for party in parties:
        workspaces[party.name] = root / "ws" / party.name
        _ok(
            runner.invoke(
                main,
                [
                    "workspace",
                    "init",
                    str(workspaces[party.name]),
                    "--project",
                    str(project),
                    "--party",
                    party.name,
                    "--keys",
                    str(root / f"{party.name}-keys"),
                    "--passphrase-file",
                    str(root / f"{party.name}.passphrase"),
                ],
            )
        )
    files = {s.source: str(s.path) for s in synthetic.sources}
    sources = {p.name: p.sources for p in parties}
    outputs: dict[str, str] = {}

    def run(name: str, *args: str) -> None:
        outputs[f"{name} {' '.join(args[:2])}"] = _ok(
            runner.invoke(main, [*args, "-w", str(workspaces[name])])
        )

    surveys = [p.name for p in parties if p.role.value == "survey-provider"]
    authorities = [p.name for p in parties if p.role.value == "authority-provider"]
    for name in surveys:
        (source,) = sources[name]
        run(name, "provider", "participants", "--source", source, files[source])
        run(name, "send")
    for name in authorities + surveys:
        run(name, "receive")
        (source,) = sources[name]
        run(name, "provider", "split", "--source", source, files[source])
        run(name, "send")
    for name, steps in (
        ("nrs", [["indexer", "link"]]),
        ("edris", [["linker", "release"]]),
        ("scotcen-analysis", [["analyst", "open"]]),
    ):
        run(name, "receive")
        for step in steps:
            run(name, *step)
        if name != "scotcen-analysis":
            run(name, "send")
    return CliRun(root, synthetic, workspaces, outputs)


def test_release_holds_exactly_each_participating_child(cli_run: CliRun) -> None:
    (release,) = (cli_run.workspaces["scotcen-analysis"] / "opened" / "release").glob("*.parquet")
    assert_release_is_the_truth(
        release, cli_run.synthetic.truth.pupils, cli_run.synthetic.respondents
    )


def test_every_count_in_every_report_adds_up(cli_run: CliRun) -> None:
    records = {p.parent.name: json.loads(p.read_text()) for p in cli_run.root.rglob("step.json")}
    link = records["link"]
    for source, counts in link["counts"].items():
        parts = (
            "keyed",
            "invalid-id",
            "duplicate",
            "withheld-not-participant",
            "withheld-survey-excluded",
        )
        assert counts["rows"] == sum(counts[p] for p in parts), source
    release = records["release"]
    assert release["released"] == cli_run.synthetic.respondents
    for name, record in records.items():
        if name.startswith("split-"):
            v = record["validation"]
            assert v["rows_read"] == v["rows_accepted"] + v["rows_quarantined"]
            assert v["rows_accepted"] == record["shared"] + record["withheld_not_participant"]
            assert link["counts"][record["source"]]["rows"] == record["shared"]
    quality = pq.read_table(next(cli_run.workspaces["edris"].rglob("quality.parquet"))).to_pylist()
    overall = next(r for r in quality if r["dimension"] == "all")
    for dimension in {r["dimension"] for r in quality} - {"all"}:
        rows = [r for r in quality if r["dimension"] == dimension]
        assert sum(r["surveyed"] for r in rows) == overall["surveyed"], dimension
        assert sum(r["linked"] for r in rows) == overall["linked"], dimension


def test_verify_separation_passes_through_the_cli(cli_run: CliRun) -> None:
    demo_like = cli_run.root / "demo-like"
    (demo_like / "synthetic").mkdir(parents=True)
    (demo_like / "workspaces").symlink_to(cli_run.root / "ws")
    (demo_like / "synthetic" / "truth").symlink_to(cli_run.synthetic.truth.pupils.parent)
    output = _ok(CliRunner().invoke(main, ["verify-separation", str(demo_like)]))
    assert "survey IDs" in output


def test_verify_separation_of_a_folder_that_is_no_demo_run_says_so(tmp_path: Path) -> None:
    empty = CliRunner().invoke(main, ["verify-separation", str(tmp_path)])
    assert empty.exit_code == 2, empty.output
    assert "linkwell demo --out" in empty.output
    (tmp_path / "synthetic" / "truth").mkdir(parents=True)
    pq.write_table(
        pa.table({"unique_id": ["1234567890"]}), tmp_path / "synthetic" / "truth" / "pupils.parquet"
    )
    bare = CliRunner().invoke(main, ["verify-separation", str(tmp_path)])
    assert bare.exit_code == 2, bare.output
    assert "no party's workspace" in bare.output


@pytest.mark.parametrize(
    ("package_from", "into"),
    [
        ("ipsos-mori", "edris"),  # identifiers, meant for the indexer, delivered to the linker
        ("edris", "nrs"),  # content or release meant for others, delivered to the indexer
        ("nrs", "scotcen-analysis"),  # the linkage key delivered to the analyst
    ],
)
def test_a_package_in_the_wrong_inbox_is_refused_and_kept_aside(
    cli_run: CliRun, package_from: str, into: str
) -> None:
    sent = sorted((cli_run.workspaces[package_from] / "sent").glob("*.lwp"))
    inbox = cli_run.root / "exchange" / into / "inbox"
    for package in sent:
        target = inbox / f"misrouted-{package.name}"
        shutil.copy(package, target)
    result = CliRunner().invoke(main, ["receive", "-w", str(cli_run.workspaces[into])])
    assert result.exit_code == 0, result.output
    quarantine = cli_run.workspaces[into] / "transfer" / "quarantine"
    assert len(list(quarantine.glob("misrouted-*.lwp"))) == len(sent)
    for note in quarantine.glob("misrouted-*.reason.json"):  # each reason said, not just filed
        assert json.loads(note.read_text())["detail"] in result.output
    opened = cli_run.workspaces[into] / "opened"
    assert not list(opened.rglob("misrouted-*"))


def test_the_analysts_report_in_its_workspace_is_where_the_command_says(cli_run: CliRun) -> None:
    workspace = cli_run.workspaces["scotcen-analysis"]
    output = _ok(CliRunner().invoke(main, ["analyst", "report", "-w", str(workspace)]))
    said = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    report = Path(said["report"])
    log = Path(said["disclosure log (keep it, do not publish it)"])
    assert report.is_file()  # where the step committed it, not its staging folder
    assert report.is_relative_to(workspace)
    assert log.is_file()
    assert log.is_relative_to(workspace)
    assert not log.is_relative_to(report.parent)
    again = _ok(CliRunner().invoke(main, ["analyst", "report", "-w", str(workspace)]))
    assert again == output  # the step is done: its record is read back


def test_the_analysts_report_reads_the_release_with_the_workspaces_engine(
    cli_run: CliRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "analyst"  # a copy: the report step may be done in the fixture's
    shutil.copytree(cli_run.workspaces["scotcen-analysis"], workspace)
    shutil.rmtree(Workspace.open(workspace).step_dir("report"), ignore_errors=True)
    seen: list[tuple[str, str]] = []
    prepare = pipeline.prepare_release

    def watched(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        seen.append(
            (
                engine.scalar("SELECT current_setting('temp_directory')", purpose="spill"),
                engine.scalar("SELECT current_setting('memory_limit')", purpose="limit"),
            )
        )
        return prepare(engine, *args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare_release", watched)
    _ok(CliRunner().invoke(main, ["analyst", "report", "-w", str(workspace)]))
    with Workspace.open(workspace).engine() as engine:
        limit = engine.scalar("SELECT current_setting('memory_limit')", purpose="limit")
    assert seen == [(str(workspace / "tmp"), limit)]  # not DuckDB's .tmp here, 80% of the machine
    again = CliRunner().invoke(
        main, ["analyst", "report", "-w", str(workspace), "--out", str(tmp_path / "elsewhere")]
    )
    assert again.exit_code == 2  # written already: said so, with where it is
    assert "is written already" in again.output
    assert "linkwell report" in again.output
    assert not (tmp_path / "elsewhere").exists()
    done = Workspace.open(workspace).completed("report", ReportBundle)
    assert done is not None
    shutil.rmtree(done.out_dir)  # published, then removed: the step must not claim it is there
    gone = CliRunner().invoke(main, ["analyst", "report", "-w", str(workspace)])
    assert gone.exit_code == 7, gone.output
    assert "no longer holds it" in gone.output
    assert "linkwell report" in gone.output


def _analyst_copy(cli_run: CliRun, tmp_path: Path) -> tuple[Path, Opened]:
    workspace = tmp_path / "analyst"
    shutil.copytree(cli_run.workspaces["scotcen-analysis"], workspace)
    (release,) = Workspace.open(workspace).opened({PackageKind.RELEASE})
    return workspace, release


def test_a_release_changed_on_the_analysts_disk_is_not_analysed(
    cli_run: CliRun, tmp_path: Path
) -> None:
    workspace, release = _analyst_copy(cli_run, tmp_path)
    table = pq.read_table(release.path)
    pq.write_table(table.slice(1), release.path)  # one child fewer, by hand
    result = CliRunner().invoke(main, ["analyst", "open", "-w", str(workspace)])
    assert result.exit_code == 7, result.output
    assert "differs from the one its sender signed" in result.output


def test_a_release_refused_for_identifiers_is_deleted(cli_run: CliRun, tmp_path: Path) -> None:
    workspace, release = _analyst_copy(cli_run, tmp_path)
    table = pq.read_table(release.path)
    schools = table.column("school").to_pylist()
    schools[0] = _an_id(cli_run)
    pq.write_table(table.set_column(table.schema.get_field_index("school"), "school",
                                    pa.array(schools, pa.string())), release.path)  # fmt: skip
    digest = hashlib.sha256(release.path.read_bytes()).hexdigest()
    meta = release.path.with_suffix(".json")  # as if the linker had sealed it so
    manifest = json.loads(meta.read_text())
    meta.write_text(json.dumps(manifest | {"plaintext_sha256": digest}))
    result = CliRunner().invoke(main, ["analyst", "open", "-w", str(workspace)])
    assert result.exit_code == 10, result.output
    assert "refused and deleted" in result.output
    assert not release.path.exists()
    assert not meta.exists()
    reasons = list((workspace / "quarantine").glob("*.reason.txt"))
    assert [r.read_text().split(":")[0] for r in reasons] == ["SeparationError"]
    again = CliRunner().invoke(main, ["analyst", "open", "-w", str(workspace)])
    assert "no release has been received" in again.output  # waiting for a corrected one


def _an_id(cli_run: CliRun) -> str:
    """A survey ID of the synthetic area (a valid ten-digit ID with its check digit)."""
    truth = pq.read_table(cli_run.root / "area" / "truth" / "pupils.parquet")
    return str(truth.column("unique_id").drop_null()[0])


def test_the_indexer_keeps_no_map_from_survey_ids_to_link_ids(cli_run: CliRun) -> None:
    nrs = cli_run.workspaces["nrs"]
    holding = [
        path.relative_to(nrs)
        for path in nrs.rglob("*.parquet")
        if "link_id" in pq.read_schema(path).names
    ]
    assert holding == []  # its opened identifiers hold (row_ref, unique_id): no key beside them


@pytest.mark.parametrize(
    ("party", "command"),
    [
        ("nrs", ["linker", "release"]),
        ("edris", ["indexer", "link"]),
        ("edris", ["indexer", "vault", "verify"]),
        ("edris", ["analyst", "open"]),
        ("scotcen-analysis", ["provider", "split", "--source", "secondary"]),
        ("nrs", ["provider", "participants", "--source", "secondary"]),
    ],
)
def test_a_step_in_another_roles_workspace_is_refused_before_anything_is_made(
    cli_run: CliRun, party: str, command: list[str]
) -> None:
    workspace = cli_run.workspaces[party]
    before = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    extract = [str(cli_run.synthetic.sources[0].path)] if command[0] == "provider" else []
    result = CliRunner().invoke(main, [*command, "-w", str(workspace), *extract])
    assert result.exit_code == 2, result.output
    assert f"this is the workspace of {party}" in result.output
    assert sorted(p.relative_to(workspace) for p in workspace.rglob("*")) == before
