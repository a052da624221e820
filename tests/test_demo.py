"""The demo's own decisions, checked without running the whole flow (the e2e tests do that)."""

from __future__ import annotations

import os
import pwd
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from linkwell import demo
from linkwell.config import Role, SourceKind
from linkwell.demo import DemoParty, delivery_routes, run_demo
from linkwell.errors import ConfigError
from linkwell.transport import LocalSftpServer, check_server_prerequisites

PARTIES = (
    DemoParty("ipsos-mori", Role.SURVEY_PROVIDER, "Ipsos MORI", ("secondary",)),
    DemoParty("scotcen-survey", Role.SURVEY_PROVIDER, "ScotCen", ("primary",)),
    DemoParty("council-a", Role.AUTHORITY_PROVIDER, "Council A", ("authority-a",)),
    DemoParty("nrs", Role.INDEXER, "NRS"),
    DemoParty("edris", Role.LINKER, "eDRIS"),
    DemoParty("scotcen-analysis", Role.ANALYST, "ScotCen"),
)


def test_the_drop_folders_are_exactly_the_flow_of_the_design() -> None:
    """DESIGN.md's diagram: participants to the council, identifiers to NRS, content and the
    key to eDRIS, the release to the analyst; nothing else, and never back."""
    surveys, council = ("ipsos-mori", "scotcen-survey"), "council-a"
    expected = {
        *((s, council) for s in surveys),
        *((p, "nrs") for p in (*surveys, council)),
        *((p, "edris") for p in (*surveys, council, "nrs")),
        ("edris", "scotcen-analysis"),
    }
    routes = delivery_routes(PARTIES)
    assert set(routes) == expected
    assert len(routes) == len(expected)
    assert routes == tuple(sorted(routes))


def test_an_unknown_transport_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown demo transport") as caught:
        run_demo(tmp_path / "out", transport="carrier-pigeon")  # type: ignore[arg-type]
    assert caught.value.field == "transport"
    assert not (tmp_path / "out").exists()


def test_the_sftp_demo_without_root_says_so_at_once_and_names_the_folder_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(demo, "synthesise", _must_not_run)
    with pytest.raises(ConfigError) as caught:
        run_demo(tmp_path / "out", transport="sftp")
    assert "the SFTP demo needs root" in caught.value.message
    assert "chrooted" in caught.value.message
    assert caught.value.hint is not None
    assert "make demo" in caught.value.hint
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d.mkdir(), (d / "x").write_text("x")), "not empty"),
        (lambda d: d.parent.chmod(0o777), "ChrootDirectory"),  # like /tmp
    ],
)
def test_a_server_folder_that_cannot_serve_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any, message: str
) -> None:
    try:
        check_server_prerequisites("this test")
    except ConfigError as exc:
        pytest.skip(str(exc))
    monkeypatch.setattr(demo, "synthesise", _must_not_run)
    make(tmp_path / "server")
    with pytest.raises(ConfigError, match=message):
        run_demo(tmp_path / "out", transport="sftp", server_dir=tmp_path / "server")
    assert not (tmp_path / "out").exists()


def test_a_demo_that_fails_midway_still_removes_its_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        check_server_prerequisites("this test")
    except ConfigError as exc:
        pytest.skip(str(exc))
    started: list[LocalSftpServer] = []

    class Recorded(LocalSftpServer):
        def start(self) -> None:
            started.append(self)
            super().start()

    def failing_key(path: Path, **_: Any) -> str:
        assert started[0].port  # the server is up when the parties make their keys
        raise RuntimeError("a party's disk failed")

    sources = [
        SimpleNamespace(kind=SourceKind.SURVEY, source="secondary", authority_code=None),
        SimpleNamespace(kind=SourceKind.AUTHORITY, source="authority-a", authority_code="A1"),
    ]
    monkeypatch.setattr(demo, "synthesise", lambda *_a, **_k: SimpleNamespace(sources=sources))
    monkeypatch.setattr(
        demo, "create_identity", lambda *_a, **_k: SimpleNamespace(card_file=tmp_path / "card")
    )
    monkeypatch.setattr(demo, "LocalSftpServer", Recorded)
    monkeypatch.setattr(demo, "create_ssh_key", failing_key)
    server_dir = Path("/srv") / f"lwt{secrets.token_hex(3)}-demo"
    with pytest.raises(RuntimeError, match="disk failed"):
        run_demo(tmp_path / "out", transport="sftp", server_dir=server_dir)
    (server,) = started
    assert len(server.users) == 5  # one survey, one council, indexer, linker, analyst
    for user in server.users.values():
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
    assert not server_dir.exists()


def _must_not_run(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the demo started work it could not finish")


def test_the_demo_plants_its_own_milder_mess(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The demo's area uses DEMO_MESS unless told otherwise (the generator's 1% blanks would
    reject a quarter of an authority extract)."""
    import linkwell.demo as demo_module
    from linkwell.demo import DEMO_MESS

    seen = {}

    class StopError(Exception):
        pass

    def fake_synthesise(out: Path, **options: object) -> None:
        seen.update(options)
        raise StopError

    monkeypatch.setattr(demo_module, "synthesise", fake_synthesise)
    with pytest.raises(StopError):
        demo_module.run_demo(tmp_path / "d", children=1500)
    assert seen["mess"] == DEMO_MESS
