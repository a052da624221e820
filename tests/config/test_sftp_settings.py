"""The project file's SFTP settings: folders per party, pinned host key, one login per party."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from linkwell.config import ProjectConfig, SftpEndpoint, SftpTransport

HOST_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQbC0r4cYbMcn0d4wF8eZ5Dj3u9hQ6b3z3rjF2lN0a7 op@sftp"
)


def _project(**sftp_of: dict[str, str] | None) -> dict[str, Any]:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    roles = {"ipsos": "survey-provider", "nrs": "indexer", "edris": "linker", "scotcen": "analyst"}
    parties = []
    for index, (name, role) in enumerate(roles.items()):
        party: dict[str, Any] = {
            "name": name,
            "role": role,
            "organisation": name,
            "identities": [
                {
                    "encryption_key": "age1" + "q" * 57 + alphabet[index],
                    "signing_key": "ed25519:" + "A" * 42 + "ABCDEFGHIJ"[index] + "=",
                    "created": "2026-01-01T00:00:00Z",
                }
            ],
        }
        sftp = sftp_of.get(name, {"user": f"lw-{name}"})
        if sftp is not None:
            party["sftp"] = sftp
        parties.append(party)
    return {
        "project": {"id": "rcs", "wave": 1},
        "parties": parties,
        "sources": [],
        "transport": {"kind": "sftp", "host": "sftp.example.org", "host_key": HOST_KEY},
    }


def test_endpoint_defaults_match_the_prepared_server_layout() -> None:
    endpoint = SftpEndpoint(user="lw-nrs")
    assert (endpoint.inbox, endpoint.drop, endpoint.acks) == (
        "/inbox",
        "/outbox/{recipient}",
        "/acks",
    )
    assert endpoint.drop.format(recipient="edris") == "/outbox/edris"


@pytest.mark.parametrize(
    "drop", ["/outbox", "/outbox/{recipient}/{x}", "outbox/{recipient}", "/out box/{recipient}"]
)
def test_the_drop_folder_must_name_the_recipient_once(drop: str) -> None:
    with pytest.raises(ValidationError):
        SftpEndpoint(user="u", drop=drop)


def test_custom_folders_are_accepted() -> None:
    endpoint = SftpEndpoint(user="u", inbox="/home/u/in", drop="/data/{recipient}/in", acks="/a")
    assert endpoint.drop.format(recipient="nrs") == "/data/nrs/in"


@pytest.mark.parametrize(
    "key",
    ["AAAAC3Nza", "ssh-dss AAAAB3NzaC1kc3M=", "ssh-ed25519 not base64!", "", HOST_KEY + "\n x"],
)
def test_the_host_key_must_be_an_openssh_public_key(key: str) -> None:
    with pytest.raises(ValidationError):
        SftpTransport(host="h", host_key=key)


def test_sftp_transport_needs_a_login_for_every_party() -> None:
    assert ProjectConfig.model_validate(_project()).party("nrs").sftp is not None
    with pytest.raises(ValidationError, match="every party needs an 'sftp' entry"):
        ProjectConfig.model_validate(_project(edris=None))
    with pytest.raises(ValidationError, match="two parties share user 'lw-nrs'"):
        ProjectConfig.model_validate(_project(edris={"user": "lw-nrs"}))
