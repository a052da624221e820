"""Every key of the project and workspace files is documented in docs/project-file.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from linkwell import config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "project-file.md").read_text(encoding="utf-8")

MODELS = [
    config.ProjectConfig,
    config.ProjectInfo,
    config.Party,
    config.IdentityCard,
    config.SftpEndpoint,
    config.Source,
    config.ColumnMapping,
    config.ReleasePolicy,
    config.DisclosurePolicy,
    config.FolderTransport,
    config.SftpTransport,
    config.WorkspaceConfig,
]


def _tokens(name: str) -> list[str]:
    """The spellings of ``name`` that occur in the document."""
    return [form for form in (f"`{name}`", f"{name} =", f"### {name}") if form in DOC]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_key_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if not _tokens(name)]
    assert not missing, f"{model.__name__}: document {missing} in docs/project-file.md"
