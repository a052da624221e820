"""Lists of survey IDs in files: issuing new ones and checking existing ones.

An ID list is a text file with one survey ID per line (surrounding spaces and blank lines are
ignored; a first line holding letters is taken as a column heading). Checking reports how many
IDs are valid and the line numbers of the invalid ones, never an ID itself, so the report can be
shared. Issuing draws fresh IDs that collide with none already issued, and never overwrites a
list: a lost list of issued IDs cannot be recovered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.errors import ConfigError, ReadError
from linkwell.fileio import write_text_atomic
from linkwell.schema.ids import issue_ids, valid_id_mask

__all__ = ["IdCheck", "check_id_arguments", "check_id_file", "issue_id_file", "read_id_list"]

_HEADING: Final = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class IdCheck:
    """The result of checking one file or one ID given on the command line.

    ``label`` names what was checked without quoting an ID ("ids.txt", "argument 2");
    ``invalid_rows`` are line numbers in a file, or ``(1,)`` for an invalid single ID.
    """

    label: str
    is_file: bool
    total: int
    valid: int
    invalid_rows: tuple[int, ...]

    @property
    def invalid(self) -> int:
        """How many were not valid survey IDs."""
        return self.total - self.valid


def read_id_list(path: Path) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]]:
    """The IDs in ``path`` and the line number each came from."""
    if path.is_dir():
        raise ReadError(
            "this is a folder, not a list of IDs", file=path, hint="give the list's file"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise ReadError("the file does not exist", file=path, hint="check the path") from exc
    except UnicodeDecodeError as exc:
        raise ReadError(
            "the ID list is not UTF-8 text", file=path, hint="save it as plain text, one ID a line"
        ) from exc
    except OSError as exc:
        raise ReadError(
            f"the file cannot be read ({exc.strerror})", file=path, hint="check the file"
        ) from exc
    lines = np.char.strip(np.array(text.splitlines() or [""], dtype=np.str_))
    numbers = np.arange(1, len(lines) + 1, dtype=np.int64)
    keep = np.char.str_len(lines) > 0
    if len(lines) and _HEADING.search(str(lines[0])):
        keep[0] = False
    return lines[keep], numbers[keep]


def check_id_file(path: Path) -> IdCheck:
    """Check every ID in a list file."""
    ids, rows = read_id_list(path)
    valid = valid_id_mask(ids)
    return IdCheck(
        label=str(path),
        is_file=True,
        total=len(ids),
        valid=int(valid.sum()),
        invalid_rows=tuple(int(r) for r in rows[~valid]),
    )


def check_id_arguments(arguments: Sequence[str]) -> tuple[IdCheck, ...]:
    """Check each argument: an existing file as an ID list, anything else as one ID."""
    results = []
    for position, argument in enumerate(arguments, start=1):
        path = Path(argument)
        if path.is_file():
            results.append(check_id_file(path))
            continue
        ok = bool(valid_id_mask([argument.strip()])[0])
        results.append(
            IdCheck(
                label=f"argument {position}",
                is_file=False,
                total=1,
                valid=int(ok),
                invalid_rows=() if ok else (1,),
            )
        )
    return tuple(results)


def issue_id_file(
    count: int, *, out: Path | None = None, exclude: Path | None = None
) -> npt.NDArray[np.str_]:
    """``count`` new distinct IDs, none in ``exclude``'s list; written to ``out`` if given.

    Every line of ``exclude`` must be a valid ID: a list with errors is refused (naming the
    first bad line) rather than half-used. ``out`` must not exist yet.
    """
    if count < 1:
        raise ConfigError(
            "the number of IDs to issue must be at least 1", field="count", hint="give --count N"
        )
    if out is not None and out.exists():
        raise ConfigError(
            "the output file already exists; a list of issued IDs is never overwritten",
            file=out,
            hint="choose a new file name, or move the old list away first",
        )
    used = None
    if exclude is not None:
        used, rows = read_id_list(exclude)
        bad = ~valid_id_mask(used)
        if bad.any():
            raise ReadError(
                f"{int(bad.sum())} line(s) of the exclusion list are not valid survey IDs",
                file=exclude,
                row=int(rows[bad][0]),
                hint="the exclusion list must hold only IDs already issued, one a line",
            )
    try:
        ids = issue_ids(count, exclude=used)
    except ValueError as exc:
        raise ConfigError(
            f"cannot issue {count} IDs: {exc}",
            field="count",
            hint="issue fewer; half the ID space stays unused so that IDs stay hard to guess",
        ) from exc
    if out is not None:
        write_text_atomic(out, "\n".join(ids.tolist()) + "\n")
    return ids
