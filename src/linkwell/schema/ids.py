"""The unique survey ID: nine random digits and a Damm check digit.

The Damm algorithm (a quasigroup of order 10 with weak totally anti-symmetric structure) detects
every single-digit substitution and every transposition of two adjacent digits, which is what a
survey ID typed from a class list most often suffers. The first digit is never 0, so an ID read
as a number by a spreadsheet keeps all ten digits. IDs are drawn from the operating system's
CSPRNG without bias and without sequence, so knowing some IDs tells nothing about others.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ID_LENGTH",
    "ID_PATTERN",
    "ID_SCHEME",
    "check_digit",
    "damm_sql",
    "is_valid_id",
    "issue_ids",
    "issue_ids_seeded",
    "valid_id_mask",
]

ID_SCHEME: Final = "damm-10"
"""Name of this ID scheme, recorded in dataset manifests."""

ID_LENGTH: Final = 10
ID_PATTERN: Final = re.compile(r"^[1-9][0-9]{9}$")
"""The shape of a survey ID (the check digit is tested separately)."""

# Damm's operation table: row = interim digit, column = next digit.
_DAMM: Final = np.array(
    [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ],
    dtype=np.uint8,
)
_PAYLOAD_LOW: Final = 100_000_000
_PAYLOAD_SPAN: Final = 900_000_000  # payloads 100000000..999999999


def _interim(digits: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Run Damm's table over the columns of a (rows, positions) digit matrix."""
    state = np.zeros(digits.shape[0], dtype=np.uint8)
    for position in range(digits.shape[1]):
        state = _DAMM[state, digits[:, position]]
    return state


def check_digit(payload: str) -> str:
    """The Damm check digit for a string of decimal digits."""
    if not payload.isascii() or not payload.isdigit():
        msg = "payload must be decimal digits"
        raise ValueError(msg)
    digits = np.frombuffer(payload.encode("ascii"), dtype=np.uint8) - ord("0")
    return str(int(_interim(digits.reshape(1, -1))[0]))


def is_valid_id(candidate: str) -> bool:
    """Whether ``candidate`` is a well-formed survey ID with a correct check digit."""
    return bool(ID_PATTERN.fullmatch(candidate)) and check_digit(candidate) == "0"


def valid_id_mask(candidates: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised :func:`is_valid_id`: one flag per candidate string, over whole arrays."""
    text = np.asarray(candidates, dtype=np.str_).reshape(-1)
    valid = np.zeros(text.shape[0], dtype=bool)
    sized = np.char.str_len(text) == ID_LENGTH
    if not sized.any():
        return valid
    codes = text[sized].astype(f"U{ID_LENGTH}").view(np.uint32).reshape(-1, ID_LENGTH)
    shaped = ((codes >= ord("0")) & (codes <= ord("9"))).all(axis=1) & (codes[:, 0] != ord("0"))
    checked = np.zeros(codes.shape[0], dtype=bool)
    digits = (codes[shaped] - ord("0")).astype(np.uint8)
    checked[shaped] = _interim(digits) == 0
    valid[sized] = checked
    return valid


def issue_ids(count: int, *, exclude: npt.NDArray[np.str_] | None = None) -> npt.NDArray[np.str_]:
    """``count`` distinct new survey IDs from the OS's CSPRNG, none of them in ``exclude``.

    Payloads are drawn uniformly without modulo bias (rejection sampling) and duplicates are
    redrawn, so the result is a uniform random sample of unused IDs in random order.
    """
    if count < 0:
        msg = "count must not be negative"
        raise ValueError(msg)
    if count > _PAYLOAD_SPAN // 2:
        msg = "more IDs than the scheme can issue safely"
        raise ValueError(msg)
    used = np.empty(0, dtype=np.uint64)
    if exclude is not None and len(exclude):
        used = (np.asarray(exclude, dtype="U10").astype(np.uint64) // np.uint64(10)).astype(
            np.uint64
        )
    chosen: list[npt.NDArray[np.uint64]] = []
    have = 0
    limit = (2**64 // _PAYLOAD_SPAN) * _PAYLOAD_SPAN
    while have < count:
        want = (count - have) * 11 // 10 + 16
        draws = np.frombuffer(secrets.token_bytes(8 * want), dtype=np.uint64)
        draws = draws[draws < limit] % np.uint64(_PAYLOAD_SPAN) + np.uint64(_PAYLOAD_LOW)
        fresh = np.unique(draws)
        fresh = fresh[~np.isin(fresh, used)][: count - have]
        used = np.concatenate([used, fresh])
        chosen.append(fresh)
        have += len(fresh)
    payloads = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.uint64)
    payloads = payloads[
        np.argsort(np.frombuffer(secrets.token_bytes(8 * len(payloads)), dtype=np.uint64))
    ]
    return _with_check_digits(payloads)


def _with_check_digits(payloads: npt.NDArray[np.uint64]) -> npt.NDArray[np.str_]:
    """Nine-digit payloads followed by their Damm check digits, as ten-character strings."""
    small = payloads.astype(np.uint32)  # payloads are below 10**9
    powers = np.uint32(10) ** np.arange(8, -1, -1, dtype=np.uint32)
    digits = ((small[:, None] // powers) % np.uint32(10)).astype(np.uint8)
    checks = _interim(digits).astype(np.uint64)
    return (payloads.astype(np.uint64) * np.uint64(10) + checks).astype("U10")


def issue_ids_seeded(count: int, rng: np.random.Generator) -> npt.NDArray[np.str_]:
    """``count`` distinct valid survey IDs drawn from a seeded ``rng``: for synthetic data only.

    The IDs have the real format and check digit, so synthetic files exercise every check real
    ones meet, and a seed reproduces them exactly. Anyone who knows the seed can reproduce them
    too, so they must never identify real pupils: real IDs come from :func:`issue_ids`.
    """
    if count < 0:
        msg = "count must not be negative"
        raise ValueError(msg)
    if count > _PAYLOAD_SPAN // 2:
        msg = "more IDs than the scheme can issue safely"
        raise ValueError(msg)
    payloads = np.empty(0, dtype=np.uint64)
    while len(payloads) < count:
        want = (count - len(payloads)) * 11 // 10 + 16
        drawn = rng.integers(_PAYLOAD_LOW, _PAYLOAD_LOW + _PAYLOAD_SPAN, want, dtype=np.uint64)
        merged = np.concatenate([payloads, drawn])
        _, first = np.unique(merged, return_index=True)
        payloads = merged[np.sort(first)]  # distinct, in draw order
    return _with_check_digits(payloads[:count])


_DAMM_PAIRS: Final = ",".join(
    str(int(_DAMM[_DAMM[state, first], second]))
    for state in range(10)
    for first in range(10)
    for second in range(10)
)
"""Damm's table applied to two digits at once: entry ``100 * state + 10 * first + second``."""


def damm_sql(expr: str) -> str:
    """A DuckDB boolean expression: ``expr`` (VARCHAR) is a well-formed ID with a valid check digit.

    The operation table is applied two digits at a time — a table of 1,000 entries, Damm's own
    applied twice — inlined as a list literal, so the check runs inside the engine over whole
    columns in five lookups instead of ten (each lookup costs about 0.2 microseconds a value).
    The lookups run under ``CASE`` only for values of the ID's shape: DuckDB evaluates both sides
    of an ``AND`` on every row, and most values scanned (a release's answers) are not IDs.
    """
    state = "0"
    for position in range(1, ID_LENGTH, 2):  # ten digits: five pairs
        digits = f"CAST(substr({expr}, {position}, 2) AS INTEGER)"
        state = f"[{_DAMM_PAIRS}][({state}) * 100 + {digits} + 1]"
    pattern = ID_PATTERN.pattern.replace("'", "''")
    shaped = f"coalesce(regexp_full_match({expr}, '{pattern}'), false)"
    return f"(CASE WHEN {shaped} THEN ({state}) = 0 ELSE false END)"
