"""The route table: exactly the flows of DESIGN.md, nothing else, and the docs agree with it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from linkwell.config import Role
from linkwell.errors import RoleError
from linkwell.seal import ROUTES, PackageKind, check_route, routes_markdown
from linkwell.seal.routes import check_expected_kind, check_source
from tests.seal.conftest import World

S, A, IX, LK, AN = (
    Role.SURVEY_PROVIDER,
    Role.AUTHORITY_PROVIDER,
    Role.INDEXER,
    Role.LINKER,
    Role.ANALYST,
)

# The brief's routes, written out by hand: the code must match this list exactly.
ALLOWED = {
    (PackageKind.IDENTIFIERS, S, IX),
    (PackageKind.IDENTIFIERS, A, IX),
    (PackageKind.CONTENT, S, LK),
    (PackageKind.CONTENT, A, LK),
    (PackageKind.PARTICIPANTS, S, A),
    (PackageKind.LINKAGE_KEY, IX, LK),
    (PackageKind.REPORT, IX, LK),
    (PackageKind.REPORT, LK, AN),
    (PackageKind.RELEASE, LK, AN),
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "package-format.md"


@pytest.mark.parametrize(
    ("kind", "sender", "receiver"), list(itertools.product(PackageKind, Role, Role))
)
def test_every_route_is_allowed_exactly_when_listed(
    kind: PackageKind, sender: Role, receiver: Role
) -> None:
    if (kind, sender, receiver) in ALLOWED:
        check_route(kind, sender, receiver)
    else:
        with pytest.raises(RoleError) as info:
            check_route(kind, sender, receiver, file="p.lwpkg")
        assert info.value.field == "kind"
        assert info.value.file == "p.lwpkg"
        assert info.value.hint


def test_route_table_is_the_listed_one() -> None:
    assert {(k, s, r) for k, pairs in ROUTES.items() for s, r in pairs} == ALLOWED
    assert set(ROUTES) == set(PackageKind)


def test_docs_table_is_generated_from_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- routes:begin -->\n(.*?)<!-- routes:end -->", text, re.S)
    assert block is not None
    assert block[1] == routes_markdown()


def test_expected_kinds() -> None:
    check_expected_kind(PackageKind.CONTENT, None)
    check_expected_kind(PackageKind.CONTENT, {PackageKind.CONTENT, PackageKind.REPORT})
    with pytest.raises(RoleError, match="expects a package of kind report"):
        check_expected_kind(PackageKind.CONTENT, {PackageKind.REPORT})


def test_source_rule(world: World) -> None:
    project = world.project
    ipsos, fife, nrs = project.party("ipsos"), project.party("fife"), project.party("nrs")
    check_source(project, PackageKind.CONTENT, "secondary", ipsos)
    check_source(project, PackageKind.IDENTIFIERS, "fife", fife)
    check_source(project, PackageKind.LINKAGE_KEY, None, nrs)
    with pytest.raises(RoleError, match="must name a source"):
        check_source(project, PackageKind.CONTENT, "fife", ipsos)  # another provider's source
    with pytest.raises(RoleError, match="must name a source"):
        check_source(project, PackageKind.CONTENT, None, ipsos)
    with pytest.raises(RoleError, match="name no source"):
        check_source(project, PackageKind.LINKAGE_KEY, "secondary", nrs)
