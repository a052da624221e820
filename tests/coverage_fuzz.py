"""Coverage-guided fuzzing (atheris, libFuzzer) of the pure-Python parsers of outside bytes.

The Hypothesis targets (``tests/fuzzing.py``) cover every reader from valid seeds; these targets
let libFuzzer grow inputs by coverage instead, for the parsers that run without a database:
package layouts, manifests, digest files, audit log lines, project files and cards. Any exception
but a ``LinkwellError`` with a message is a crash. ``make fuzz`` runs each when atheris is
installed (``pip install -e '.[fuzz]'``)::

    python -m tests.coverage_fuzz manifest -runs=20000
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["linkwell"]):
    from linkwell.audit.entry import parse_line
    from linkwell.config import load_project
    from linkwell.errors import LinkwellError
    from linkwell.seal import read_cards
    from linkwell.seal._layout import read_layout
    from linkwell.seal.manifest import decode_manifest
    from linkwell.transport.base import parse_digest_file

_SCRATCH = Path(tempfile.mkdtemp(prefix="linkwell-coverage-fuzz-"))


def _in_memory(data: bytes) -> None:
    fd = os.memfd_create("package")
    try:
        os.write(fd, data)
        read_layout(fd, len(data), file="package.lwp")
    finally:
        os.close(fd)


def _as_file(reader: Callable[[Path], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        path = _SCRATCH / "input.toml"
        path.write_bytes(data)
        reader(path)

    return run


TARGETS: dict[str, Callable[[bytes], object]] = {
    "layout": _in_memory,
    "manifest": lambda data: decode_manifest(data, file="package.lwp"),
    "digest": lambda data: parse_digest_file(data, "0123456789abcdef.lwp"),
    "audit-line": parse_line,
    "project": _as_file(load_project),
    "card": _as_file(read_cards),
}


def main() -> None:
    target = TARGETS[sys.argv.pop(1)]

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except LinkwellError as exc:
            if not exc.message.strip():
                raise AssertionError(f"{type(exc).__name__} without a message") from exc

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
