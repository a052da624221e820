"""Typed settings: the project file every party shares and the workspace file each party keeps.

A project file (TOML) is written once by the people setting up a linkage project and given to all
parties: it names the project and wave, the parties with their roles and public identities, the
sources with their column mappings, the release and disclosure policies and the transport. It is
parsed once into frozen models (unknown keys rejected) and passed explicitly; its digest is
recorded in every output so that any result can be traced to the exact settings that made it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tomllib
from contextlib import suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from linkwell.errors import ConfigError

__all__ = [
    "ColumnMapping",
    "DisclosurePolicy",
    "FolderTransport",
    "IdentityCard",
    "Party",
    "ProjectConfig",
    "ProjectInfo",
    "ReleasePolicy",
    "Role",
    "SftpEndpoint",
    "SftpTransport",
    "Source",
    "SourceKind",
    "TransportConfig",
    "WorkspaceConfig",
    "load_model",
    "load_project",
    "load_workspace",
]

M = TypeVar("M", bound=BaseModel)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
"""Lower-case name used in file names and package manifests, e.g. ``ipsos`` or ``fife-council``."""


def _no_nul(path: Path) -> Path:
    if "\x00" in str(path):
        msg = "a path may not contain a NUL character"
        raise ValueError(msg)
    return path


FilePath = Annotated[Path, AfterValidator(_no_nul)]
"""A path as a settings file gives it: one the operating system can be asked about."""


class Role(StrEnum):
    """The five roles of the separation principle (DESIGN.md, "The parties")."""

    SURVEY_PROVIDER = "survey-provider"
    AUTHORITY_PROVIDER = "authority-provider"
    INDEXER = "indexer"
    LINKER = "linker"
    ANALYST = "analyst"


class SourceKind(StrEnum):
    """Whether a source holds survey answers or local-authority service data."""

    SURVEY = "survey"
    AUTHORITY = "authority"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentityCard(_Model):
    """A party's public identity, as printed by ``linkwell keys new``.

    ``encryption_key`` is an age X25519 recipient (``age1…``) and ``signing_key`` an Ed25519
    public key (``ed25519:`` + base64). A retired card still verifies and opens packages made
    before rotation but is never used for new ones.

    ``retired`` is ``true``, or better the time of the rotation: a package signed with the card
    that claims to be made after that time is refused, so an old key kept in use (or taken)
    cannot go on sending. A signer can backdate its package, but a package may live only
    ``package_ttl_days``, so from that long after the rotation nothing it signs opens.
    """

    encryption_key: Annotated[str, StringConstraints(pattern=r"^age1[02-9ac-hj-np-z]{58}$")]
    signing_key: Annotated[str, StringConstraints(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$")]
    created: datetime
    retired: bool | AwareDatetime = False

    @field_validator("retired", mode="before")
    @classmethod
    def _retired_is_a_flag_or_a_zoned_time(cls, value: object) -> object:
        if isinstance(value, str):  # a time in quotes, as JSON or a hand-written file has it
            with suppress(ValueError):
                value = datetime.fromisoformat(value)
        if isinstance(value, bool) or (isinstance(value, datetime) and value.tzinfo):
            return value
        msg = (
            "retired is true, false or the time of the rotation with its zone "
            "(e.g. 2026-06-01T09:30:00Z)"
        )
        raise ValueError(msg)

    @model_validator(mode="after")
    def _retired_after_created(self) -> Self:
        created = self.created if self.created.tzinfo else self.created.replace(tzinfo=UTC)
        if isinstance(self.retired, datetime) and self.retired < created:
            msg = "a card cannot be retired before it was created"
            raise ValueError(msg)
        return self

    @property
    def retired_at(self) -> datetime | None:
        """When the card was retired, if the project file says (``retired = true`` does not)."""
        return self.retired if isinstance(self.retired, datetime) else None


_REMOTE_PATH = r"^/[A-Za-z0-9._/-]*$"


class SftpEndpoint(_Model):
    """Where one party logs in on the SFTP server and where its folders are, as it sees them.

    The defaults match the chrooted layout made by ``linkwell transport prepare``: the party reads
    its own ``inbox`` (owned by root, so it can neither change nor delete what arrives), writes
    each package for another party into ``drop`` (``{recipient}`` is that party's name), from
    where the server's sweeper moves it into the recipient's inbox, and leaves receipts in
    ``acks`` so that the sweeper can clear packages it has accepted off the server.
    """

    user: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")]
    inbox: Annotated[str, StringConstraints(pattern=_REMOTE_PATH)] = "/inbox"
    drop: Annotated[
        str,
        StringConstraints(pattern=r"^/([A-Za-z0-9._-]+/)*\{recipient\}(/[A-Za-z0-9._-]+)*$"),
    ] = "/outbox/{recipient}"
    acks: Annotated[str, StringConstraints(pattern=_REMOTE_PATH)] = "/acks"


class Party(_Model):
    """One party: an organisation acting in one role, with its own identity and workspace."""

    name: Slug
    role: Role
    organisation: str = Field(min_length=1)
    identities: tuple[IdentityCard, ...] = Field(min_length=1)
    sftp: SftpEndpoint | None = None

    @property
    def active_identity(self) -> IdentityCard:
        """The newest identity not retired: the one new packages are sealed to."""
        active = [card for card in self.identities if card.retired is False]
        if not active:
            raise ConfigError(
                f"party {self.name!r} has no identity that is not retired",
                field="parties.identities",
                hint="add the party's current identity card to the project file",
            )
        return max(active, key=lambda card: card.created)


class ColumnMapping(_Model):
    """How a provider's columns and codes translate into the dataset's fields and codes.

    ``columns`` maps the provider's column name to our field name; columns not named keep their
    name. Yes/no fields accept ``true_codes`` and ``false_codes`` (compared case-insensitively
    after trimming); ``codes`` maps, per field, the provider's codes to ours, also compared
    case-insensitively after trimming (so two codes differing only in case cannot mean different
    things); a cell equal to one of ``missing_codes`` counts as missing.
    """

    columns: dict[str, str] = Field(default_factory=dict)
    true_codes: tuple[str, ...] = ("1", "y", "yes", "true", "t")
    false_codes: tuple[str, ...] = ("0", "n", "no", "false", "f")
    missing_codes: tuple[str, ...] = ("", "na", "n/a", ".")
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    sheet: str | None = None

    @model_validator(mode="after")
    def _one_column_per_field(self) -> Self:
        targets = list(self.columns.values())
        doubled = sorted({t for t in targets if targets.count(t) > 1})
        if doubled:
            msg = f"two provider columns map to the same field(s) {doubled}"
            raise ValueError(msg)
        overlap = {c.lower() for c in self.true_codes} & {c.lower() for c in self.false_codes}
        if overlap:
            msg = "a code cannot mean both yes and no"
            raise ValueError(msg)
        for field_name, codes in self.codes.items():
            folded = [code.strip().lower() for code in codes]
            if len(set(folded)) < len(folded):
                msg = (
                    f"codes of {field_name!r} repeat a code in another case or with spaces; "
                    "codes are compared in any case, so give each once"
                )
                raise ValueError(msg)
        return self


class Source(_Model):
    """A dataset one provider supplies: a survey or an authority's service extract."""

    name: Slug
    kind: SourceKind
    dataset: str = Field(description="dataset definition id, e.g. 'survey-secondary'")
    dataset_version: int = Field(ge=1)
    provider: Slug
    label: str | None = None
    authority_code: str | None = Field(
        default=None,
        description="for an authority source: the code survey rows carry in their 'authority' "
        "field, which decides whose participants list each surveyed pupil goes to",
    )

    mapping: ColumnMapping = Field(default_factory=ColumnMapping)

    @model_validator(mode="after")
    def _authority_has_code(self) -> Self:
        if self.kind is SourceKind.AUTHORITY and not self.authority_code:
            msg = "an authority source needs 'authority_code'"
            raise ValueError(msg)
        if self.kind is SourceKind.SURVEY and self.authority_code is not None:
            msg = "'authority_code' belongs to authority sources only"
            raise ValueError(msg)
        return self


class ProjectInfo(_Model):
    """The project's identity: every package is bound to this id and wave."""

    id: Slug
    wave: int = Field(ge=1)
    title: str = ""
    package_ttl_days: int = Field(default=30, ge=1, le=366)


class ReleasePolicy(_Model):
    """What the linker may pass to the analyst, and how coarsely."""

    simd: Literal["decile", "quintile"] = "decile"
    urban_rural: Literal[8, 6, 3, 2] = 8
    longitudinal_id: bool = False
    k_anonymity: int = Field(default=10, ge=2)
    quasi_identifiers: tuple[str, ...] = ("school", "stage", "sex", "simd", "urban_rural")


class DisclosurePolicy(_Model):
    """Statistical disclosure control applied to every number the analyst publishes."""

    threshold: int = Field(default=10, ge=1)
    rounding_base: int = Field(default=5, ge=1)
    suppress_sensitive_zeros: bool = True
    dominance_n: int = Field(default=2, ge=1)
    dominance_k: float = Field(default=0.9, gt=0, le=1)
    national_only: tuple[str, ...] = ("prospective_adopters", "through_care_after_care")


class FolderTransport(_Model):
    """A shared folder with one inbox per party: the default, used by the demo."""

    kind: Literal["folder"] = "folder"
    root: FilePath


class SftpTransport(_Model):
    """An SFTP server with a pinned host key; each party's login is in its ``sftp`` entry."""

    kind: Literal["sftp"] = "sftp"
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    host_key: Annotated[
        str,
        StringConstraints(
            pattern=r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}"
            r"( [^\n]*)?$"
        ),
    ] = Field(
        description="the server's public host key, OpenSSH format: 'ssh-ed25519 AAAA…' (as in "
        "the server's /etc/ssh/ssh_host_ed25519_key.pub); never learnt on first use"
    )

    @field_validator("host_key")
    @classmethod
    def _key_blob_names_its_type(cls, value: str) -> str:
        """The base64 blob must decode to an SSH key of the type the line declares."""
        kind, blob = value.split(" ")[:2]
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            msg = "the host key is not valid base64"
            raise ValueError(msg) from exc
        length = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1  # noqa: PLR2004 - uint32
        if raw[4 : 4 + length] != kind.encode():
            msg = "the host key's content does not match its declared type"
            raise ValueError(msg)
        return value


TransportConfig = Annotated[FolderTransport | SftpTransport, Field(discriminator="kind")]


class ProjectConfig(_Model):
    """The whole project file."""

    format: Literal[1] = 1
    project: ProjectInfo
    parties: tuple[Party, ...]
    sources: tuple[Source, ...]
    release: ReleasePolicy = Field(default_factory=ReleasePolicy)
    disclosure: DisclosurePolicy = Field(default_factory=DisclosurePolicy)
    transport: TransportConfig
    _folder: Path | None = PrivateAttr(default=None)
    """The folder of the file the settings were read from (not part of them, nor the digest)."""

    def resolve(self, path: Path) -> Path:
        """A path the project file gives, relative to the file's folder if not absolute.

        Every party reads the same file from its own folder, and runs commands from anywhere: a
        relative path taken from the current folder would name another place for each command.
        """
        if path.is_absolute() or self._folder is None:
            return path
        return self._folder / path

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [p.name for p in self.parties]
        if twice := _repeated(names):
            msg = f"party names must be unique: {twice} is given twice"
            raise ValueError(msg)
        for role in (Role.INDEXER, Role.LINKER, Role.ANALYST):
            if sum(p.role is role for p in self.parties) != 1:
                msg = f"the project needs exactly one {role.value}"
                raise ValueError(msg)
        keys = [
            k for p in self.parties for c in p.identities for k in (c.signing_key, c.encryption_key)
        ]
        shared = {k for k in keys if keys.count(k) > 1}
        if shared:
            holders = sorted(
                {p.name for p in self.parties for c in p.identities
                 if shared & {c.signing_key, c.encryption_key}}
            )  # fmt: skip
            msg = (
                "every party needs its own identity; a key is on more than one card of "
                + " and ".join(holders)
            )
            raise ValueError(msg)
        by_name = {p.name: p for p in self.parties}
        wanted = {
            SourceKind.SURVEY: Role.SURVEY_PROVIDER,
            SourceKind.AUTHORITY: Role.AUTHORITY_PROVIDER,
        }
        for source in self.sources:
            provider = by_name.get(source.provider)
            if provider is None:
                msg = f"source {source.name!r} names provider {source.provider!r}, not a party"
                raise ValueError(msg)
            if provider.role is not wanted[source.kind]:
                msg = (
                    f"source {source.name!r} is a {source.kind.value} source; "
                    f"its provider must be a {wanted[source.kind].value}"
                )
                raise ValueError(msg)
        if isinstance(self.transport, SftpTransport):
            logins = [p.sftp.user for p in self.parties if p.sftp is not None]
            if len(logins) != len(self.parties):
                msg = "with the sftp transport every party needs an 'sftp' entry (user, folders)"
                raise ValueError(msg)
            if twice := _repeated(logins):
                msg = f"every party needs its own sftp login; two parties share user {twice}"
                raise ValueError(msg)
        if twice := _repeated([s.name for s in self.sources]):
            msg = f"source names must be unique: {twice} is given twice"
            raise ValueError(msg)
        return self

    def party(self, name: str) -> Party:
        """The party called ``name``."""
        for party in self.parties:
            if party.name == name:
                return party
        raise ConfigError(
            f"no party called {name!r} in the project file",
            field="parties",
            hint="check the party name, or add the party's identity card to the project file",
        )

    def parties_with_role(self, role: Role) -> tuple[Party, ...]:
        """Every party acting in ``role``."""
        return tuple(p for p in self.parties if p.role is role)

    def the(self, role: Role) -> Party:
        """The single party acting in ``role`` (indexer, linker or analyst)."""
        (party,) = self.parties_with_role(role)
        return party

    def source(self, name: str) -> Source:
        """The source called ``name``."""
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(
            f"no source called {name!r} in the project file",
            field="sources",
            hint="use one of: " + ", ".join(s.name for s in self.sources),
        )

    def digest(self) -> str:
        """SHA-256 of the settings in canonical JSON: recorded in every output."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class WorkspaceConfig(_Model):
    """A party's private settings, kept in its own workspace and never shared."""

    format: Literal[1] = 1
    party: Slug
    project_file: FilePath
    identity_file: FilePath = Path("identity.age")
    passphrase_env: str = "LINKWELL_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
    passphrase_file: FilePath | None = None
    sftp_key_file: FilePath | None = None
    memory_limit: (
        Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)? ?([KMGT]i?B)$")] | None
    ) = Field(
        default=None,
        description="Most memory DuckDB may hold in this workspace's steps (e.g. '8GB'); beyond "
        "it, work spills to the workspace's tmp folder. Default: half the machine's memory, "
        "at most 4 GiB.",
    )
    workers: PositiveInt | None = Field(
        default=None,
        description="Processes the disclosure audit of a large release may use (its outcome is "
        "the same whatever their number). Default: one per core.",
    )


def _repeated(names: list[str]) -> str | None:
    """The first name that ``names`` holds more than once, quoted; ``None`` if none does."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return repr(name)
        seen.add(name)
    return None


def load_model(model: type[M], path: Path, *, what: str) -> M:
    """Read a TOML file into ``model``; every problem becomes a :class:`ConfigError` naming it.

    Pydantic's messages are rebuilt from their location and type only, because its default text
    quotes the offending input value.
    """
    try:
        # utf-8-sig: a byte-order mark (Notepad writes one) is not part of the TOML
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found", file=path, hint="check the path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} is not UTF-8 text (byte {exc.start + 1} is not)",
            file=path,
            hint="save it as UTF-8 and try again",
        ) from exc
    except tomllib.TOMLDecodeError as exc:  # its text names the line and column, never a value
        raise ConfigError(
            f"{what} is not valid TOML: {exc}", file=path, hint="fix the syntax and try again"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read ({exc.strerror})", file=path) from exc
    except ValueError as exc:  # a path the operating system refuses, e.g. with a NUL in it
        raise ConfigError(f"{what} cannot be read (not a usable path)", file=path) from exc
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False)
        where = ".".join(str(part) for part in problems[0]["loc"]) or None
        shown = [_problem(error) for error in problems[:_PROBLEMS_SHOWN]]
        more = len(problems) - len(shown)
        raise ConfigError(
            f"{what} is invalid: {'; '.join(shown)}"
            + (f" (and {more} more problem(s))" if more else ""),
            file=path,
            field=where,
            hint="see docs/project-file.md for every key and its allowed values",
        ) from exc


_PROBLEMS_SHOWN: Final = 5


def _problem(error: ErrorDetails) -> str:
    """One of pydantic's problems as where it is and what is wrong, never the value given."""
    where = ".".join(str(part) for part in error["loc"])
    text = (
        "is not in the form expected"  # pydantic's text would print the pattern
        if error["type"] == "string_pattern_mismatch"
        else error["msg"]
    )
    return f"{where}: {text}" if where else text


def load_project(path: Path) -> ProjectConfig:
    """Read and validate a project file; its relative paths are taken from the file's folder."""
    project = load_model(ProjectConfig, path, what="project file")
    project._folder = path.resolve().parent  # noqa: SLF001 - set where it is read, once
    return project


def load_workspace(path: Path) -> WorkspaceConfig:
    """Read and validate a party's workspace file."""
    return load_model(WorkspaceConfig, path, what="workspace file")
