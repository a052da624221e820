"""Shared tools for fuzzing every reader of outside bytes: budgets, mutations and the verdict.

Each fuzz test runs twice in spirit: a quick variant in the default run, and a variant marked
``fuzz`` for ``make fuzz``; ``LINKWELL_FUZZ_EXAMPLES`` sets the examples per target for either
(``make fuzz`` sets 20000). :func:`judge` runs one reader on one input and decides: accepted, or
refused with a :class:`~linkwell.errors.LinkwellError` that carries a message and leaves nothing
behind; anything else fails the test. Outcomes are counted and reported at the end of the run.
Loaded as a pytest plugin from ``tests/conftest.py``, for its summary hook.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from linkwell.errors import LinkwellError

BUDGET_ENV = "LINKWELL_FUZZ_EXAMPLES"
LONG_DEFAULT = 20_000

BUDGETS = [
    pytest.param(False, id="quick"),
    pytest.param(True, id="long", marks=pytest.mark.fuzz),
]
"""Parametrize a fuzz test with these: ``long`` is true in the ``make fuzz`` variant."""

OUTCOMES: Counter[str] = Counter()


def budget(quick: int, *, long: bool) -> settings:
    """Hypothesis settings for one target: ``quick`` examples, or the fuzzing budget."""
    configured = os.environ.get(BUDGET_ENV)
    examples = int(configured) if configured else (LONG_DEFAULT if long else quick)
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _tree(folder: Path | None) -> list[tuple[str, int]]:
    if folder is None or not folder.exists():
        return []
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size if p.is_file() else -1)
        for p in folder.rglob("*")
    )


def judge(
    action: Callable[[], object], *, outputs: Path | None = None, file: Path | None = None
) -> str:
    """Run ``action`` on one input: ``"accepted"`` or ``"refused"``; any other end fails.

    A refusal must be a :class:`LinkwellError` with a message (naming ``file``, if given) and
    must leave ``outputs`` exactly as it was.
    """
    before = _tree(outputs)
    OUTCOMES["tried"] += 1
    refusal: LinkwellError | None = None
    try:
        action()
    except LinkwellError as exc:
        refusal = exc
    except BaseException:
        OUTCOMES["crashes other than LinkwellError"] += 1
        raise
    if refusal is None:
        OUTCOMES["accepted"] += 1
        return "accepted"
    left = _tree(outputs) != before
    OUTCOMES["partial outputs"] += left
    assert refusal.message.strip(), f"{type(refusal).__name__} without a message"
    assert str(refusal)
    if file is not None:
        assert refusal.file is not None, f"{type(refusal).__name__} names no file: {refusal}"
    assert not left, f"a refused input left files behind: {_tree(outputs)}"
    OUTCOMES["refused"] += 1
    return "refused"


class Folders:
    """A fresh folder per example under one test's ``tmp_path``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._count = 0

    def __call__(self) -> Path:
        self._count += 1
        folder = self._root / f"example-{self._count}"
        folder.mkdir(parents=True)
        return folder


# -- mutations ------------------------------------------------------------------------------------


def _apply(data: bytes, op: tuple[int, int, int, bytes]) -> bytes:  # noqa: PLR0911 - one per edit
    kind, a, b, chunk = op
    if not data:
        return chunk
    size = len(data)
    at = a % size
    i, j = sorted((a % (size + 1), b % (size + 1)))
    match kind:
        case 0:  # cut short
            return data[:i]
        case 1:  # one byte changed
            return data[:at] + bytes([b % 256]) + data[at + 1 :]
        case 2:  # bytes inserted
            return data[:i] + chunk + data[i:]
        case 3:  # a range deleted
            return data[:i] + data[j:]
        case 4:  # a range overwritten
            return data[:i] + chunk + data[i + len(chunk) :]
        case 5:  # a range repeated
            return data[:j] + data[i:j] + data[j:]
        case _:  # one bit flipped
            return data[:at] + bytes([data[at] ^ (1 << (b % 8))]) + data[at + 1 :]


def mutated(data: bytes, *, most: int = 3) -> st.SearchStrategy[bytes]:
    """``data`` after 1 to ``most`` random edits: cuts, changed or flipped bytes, inserts."""
    op = st.tuples(
        st.integers(0, 6),
        st.integers(0, 2**31),
        st.integers(0, 2**31),
        st.binary(min_size=1, max_size=16),
    )

    def run(ops: list[tuple[int, int, int, bytes]]) -> bytes:
        out = data
        for item in ops:
            out = _apply(out, item)
        return out

    return st.lists(op, min_size=1, max_size=most).map(run)


def json_values(*, toml: bool = False) -> st.SearchStrategy[Any]:
    """Arbitrary JSON (or, with ``toml``, TOML-writable) values, small and often awkward."""
    scalars = st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=not toml, allow_infinity=not toml),
        st.text(max_size=12),
        st.sampled_from(["", "\x00", "../..", "x" * 300, "2026-01-01T00:00:00Z", "ed25519:"]),
        *([] if toml else [st.none()]),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any, *, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(value[head], rest, new, delete=delete)
        return copy
    copy_list = list(value)
    if delete and not rest:
        del copy_list[head]
    else:
        copy_list[head] = _replace(value[head], rest, new, delete=delete)
    return copy_list


@st.composite
def edited_document(draw: st.DrawFn, document: Any, *, toml: bool = False) -> Any:
    """``document`` with one to three of its values replaced by awkward ones, or removed."""
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(document))[1:]  # never the whole document: TOML needs a table
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        delete = draw(st.booleans())
        document = _replace(document, path, draw(json_values(toml=toml)), delete=delete)
    return document


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# -- the summary ----------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fuzzing figure when any fuzz target ran."""
    if OUTCOMES["tried"]:
        terminalreporter.write_line(
            f"fuzzing: {OUTCOMES['tried']:,} inputs tried, "
            f"{OUTCOMES['crashes other than LinkwellError']} crashes other than LinkwellError, "
            f"{OUTCOMES['partial outputs']} partial outputs "
            f"({OUTCOMES['accepted']:,} accepted, {OUTCOMES['refused']:,} refused)"
        )
