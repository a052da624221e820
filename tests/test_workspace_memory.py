"""DuckDB's memory is always bounded and its spill private: a workspace's engine spills into the
workspace, within its configured limit; any other engine into a private folder of its own."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from linkwell.config import ProjectConfig, WorkspaceConfig
from linkwell.engine import Engine, default_memory_limit
from linkwell.seal import new_identity
from linkwell.workspace import Workspace
from tests.seal.conftest import ROLES, card_dict, project_dict


def _workspace(root: Path, **settings: object) -> Workspace:
    cards = {name: [card_dict(new_identity(name, role))] for name, role in ROLES.items()}
    project = ProjectConfig.model_validate(project_dict(cards))
    (root / "project.toml").touch()  # the settings must name a file that exists
    config = WorkspaceConfig(party="nrs", project_file=root / "project.toml", **settings)
    return Workspace(root, config, project)


def test_the_default_limit_is_half_the_memory_at_most_4_gib() -> None:
    limit = default_memory_limit()
    assert limit.endswith("MiB")
    assert 0 < int(limit.removesuffix("MiB")) <= 4096


def test_the_engine_takes_the_workspace_limit_and_spills_into_the_workspace(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path, memory_limit="1GiB")
    with ws.engine() as engine:
        setting = engine.scalar("SELECT current_setting('memory_limit')", purpose="limit")
        spill = engine.scalar("SELECT current_setting('temp_directory')", purpose="spill")
    assert setting == "1.0 GiB"
    assert Path(spill) == tmp_path / "tmp"


def test_without_a_setting_the_default_applies(tmp_path: Path) -> None:
    with _workspace(tmp_path).engine() as engine:
        setting = engine.scalar("SELECT current_setting('memory_limit')", purpose="limit")
    with Engine(memory_limit=default_memory_limit()) as engine:
        expected = engine.scalar("SELECT current_setting('memory_limit')", purpose="limit")
    with Engine() as engine:
        unconfigured = engine.scalar("SELECT current_setting('memory_limit')", purpose="limit")
    duckdb_default = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()
    assert setting == expected == unconfigured
    assert duckdb_default is not None
    assert setting != duckdb_default[0]  # DuckDB alone would take 80% of the machine


def test_an_engine_outside_a_workspace_spills_into_a_private_folder_it_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # DuckDB alone spills into .tmp here, and leaves it on a crash
    with Engine(memory_limit="32MiB", threads=1) as engine:
        spill = Path(engine.scalar("SELECT current_setting('temp_directory')", purpose="spill"))
        assert spill.is_absolute()
        assert not spill.is_relative_to(tmp_path)
        assert stat.S_IMODE(spill.stat().st_mode) == 0o700
        engine.execute(
            "CREATE TABLE t AS SELECT i, md5(i::VARCHAR) AS s FROM range(600000) r(i)",
            purpose="more than the memory limit",
        )
        rows = engine.scalar(
            "SELECT count(*) FROM (SELECT DISTINCT s FROM t ORDER BY s)", purpose="spill"
        )
        assert rows == 600_000
        assert list(tmp_path.iterdir()) == []
    assert not spill.exists()


@pytest.mark.parametrize("bad", ["lots", "4", "4 G", "-1GB", "4GB; PRAGMA x"])
def test_a_malformed_limit_is_refused(tmp_path: Path, bad: str) -> None:
    (tmp_path / "p.toml").touch()
    WorkspaceConfig(party="nrs", project_file=tmp_path / "p.toml", memory_limit="4GiB")  # sound
    with pytest.raises(ValidationError, match="memory_limit"):
        WorkspaceConfig(party="nrs", project_file=tmp_path / "p.toml", memory_limit=bad)


@pytest.mark.parametrize("bad", [0, -2, "two"])
def test_the_audit_workers_are_a_positive_number(tmp_path: Path, bad: object) -> None:
    (tmp_path / "p.toml").touch()
    sound = WorkspaceConfig(party="nrs", project_file=tmp_path / "p.toml", workers=3)
    assert sound.workers == 3
    with pytest.raises(ValidationError, match="workers"):
        WorkspaceConfig(party="nrs", project_file=tmp_path / "p.toml", workers=bad)
