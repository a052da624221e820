"""Reading what a verifier is given: the party's signing keys and the heads others witnessed.

A signer may be given as the key itself (``ed25519:…``), a file holding just that key, an
identity card (TOML with a ``signing_key``, as ``linkwell keys new`` prints it) or the project
file (every key of the log's party, retired ones included, since checkpoints made before a
rotation were signed with the old key). Witness files are JSON: one signed head, or a list.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import TypeAdapter

from linkwell.audit._logfile import iter_lines, locked
from linkwell.audit.entry import AuditEntry, parse_line
from linkwell.audit.findings import VerifyReport
from linkwell.audit.head import SignedHead, public_key_from_text
from linkwell.audit.verify import verify_log
from linkwell.config import load_project
from linkwell.errors import ConfigError
from linkwell.progress import SILENT, Progress

__all__ = ["load_witnesses", "log_party", "signing_keys", "verify_log_files"]

_KEY_PREFIX = "ed25519:"
_MAX_FILE_BYTES = 4 * 1024 * 1024
_HEADS: TypeAdapter[SignedHead | list[SignedHead]] = TypeAdapter(SignedHead | list[SignedHead])


def verify_log_files(
    path: Path,
    *,
    signers: Sequence[str],
    witness_files: Sequence[Path] = (),
    party: str | None = None,
    progress: Progress = SILENT,
) -> VerifyReport:
    """Verify a log against signers and witness files given as on the command line.

    ``party``: the party whose log it must be, whose keys a project file gives; by default the
    party the log's entries name.
    """
    owner = party if party is not None else log_party(path)
    keys = [key for spec in signers for key in signing_keys(spec, party=owner)]
    heads = [head for file in witness_files for head in load_witnesses(file)]
    return verify_log(path, signer=keys, witnessed=heads, party=party, progress=progress)


def log_party(path: Path) -> str | None:
    """The party named by the first readable entry of the log, if any (read no further)."""
    with locked(path, write=False) as fd, open(fd, "rb", closefd=False) as handle:
        for line in iter_lines(handle):
            entry = parse_line(line.raw) if line.complete else None
            if isinstance(entry, AuditEntry):
                return entry.party
    return None


def signing_keys(spec: str, *, party: str | None) -> tuple[str, ...]:
    """The public signing key(s) that ``spec`` stands for; see the module docstring."""
    if spec.startswith(_KEY_PREFIX):
        public_key_from_text(spec)
        return (spec,)
    path = Path(spec)
    text = _read_text(path, what="signer file")
    if text.strip().startswith(_KEY_PREFIX) and len(text.split()) == 1:
        public_key_from_text(text.strip())
        return (text.strip(),)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "the signer file is neither a key, an identity card nor a project file",
            file=path,
            hint="give the party's 'ed25519:…' key, its card.toml or the project file",
        ) from exc
    if "parties" in document and "project" in document:
        return _project_keys(path, party)
    keys = tuple(dict.fromkeys(_signing_keys_in(document)))
    if not keys:
        raise ConfigError("the identity card has no signing key", file=path, field="signing_key")
    for key in keys:
        try:
            public_key_from_text(key)
        except ConfigError as exc:
            raise ConfigError(exc.message, file=path, field="signing_key", hint=exc.hint) from exc
    return keys


def _project_keys(path: Path, party: str | None) -> tuple[str, ...]:
    if party is None:
        raise ConfigError(
            "cannot tell whose log this is, so cannot pick that party's keys from the project",
            file=path,
            hint="give the party's signing key or identity card instead",
        )
    project = load_project(path)
    return tuple(card.signing_key for card in project.party(party).identities)


def _signing_keys_in(value: object) -> Iterator[str]:
    """Every ``signing_key`` string anywhere in a parsed TOML document."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "signing_key" and isinstance(item, str):
                yield item
            else:
                yield from _signing_keys_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _signing_keys_in(item)


def load_witnesses(path: Path) -> tuple[SignedHead, ...]:
    """The signed head(s) in a witness file (JSON: one head or a list of heads)."""
    text = _read_text(path, what="witness file")
    try:
        heads = _HEADS.validate_python(json.loads(text))
    except ValueError as exc:  # json's errors and pydantic's ValidationError alike
        # json's and pydantic's messages may quote the file; this one names the file only.
        raise ConfigError(
            "the witness file is not a signed log head (JSON) or a list of them",
            file=path,
            hint="use the 'sender_log_head' of a package manifest, saved as JSON",
        ) from exc
    return (heads,) if isinstance(heads, SignedHead) else tuple(heads)


def _read_text(path: Path, *, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found", file=path, hint="check the path") from exc
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read ({exc.strerror})", file=path) from exc
    if len(data) > _MAX_FILE_BYTES:
        raise ConfigError(f"{what} is far too large to be one", file=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not UTF-8 text", file=path) from exc
