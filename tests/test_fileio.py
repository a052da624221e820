from __future__ import annotations

import stat
from pathlib import Path

from linkwell.fileio import atomic_path


def test_a_published_copy_is_readable_by_all_and_a_private_one_by_its_owner(
    tmp_path: Path,
) -> None:
    """Whatever mode the writer gave the partial file, the destination gets the one asked for."""
    for mode in (0o644, 0o600):
        dest = tmp_path / f"{mode:o}.csv"
        with atomic_path(dest, mode=mode) as partial:
            partial.unlink()  # as a writer that replaces the file does
            partial.touch(mode=0o666)
            partial.write_text("x\n")
        assert stat.S_IMODE(dest.stat().st_mode) == mode
        assert dest.read_text() == "x\n"
