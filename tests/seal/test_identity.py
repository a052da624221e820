"""Secret identities: cards, fingerprints and the strict secret text form (no scrypt here)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.config import IdentityCard, Role
from linkwell.errors import IdentityError
from linkwell.seal import SecretIdentity, fingerprint, format_fingerprint, new_identity
from linkwell.seal.identity import SECRET_TEXT_FIRST_LINE

NOW = datetime(2026, 1, 2, 9, 30, 15, 123456, tzinfo=UTC)


def test_new_identity_has_a_valid_card_and_whole_second_time() -> None:
    identity = new_identity("nrs", Role.INDEXER, now=NOW)
    card = identity.card()
    IdentityCard.model_validate(card.model_dump())  # the project file's own rules
    assert card.created == NOW.replace(microsecond=0)
    assert not card.retired
    assert identity.fingerprint == fingerprint(card)
    assert re.fullmatch(r"[0-9a-f]{64}", identity.fingerprint)


def test_fingerprint_covers_both_keys_but_not_time_or_retirement() -> None:
    a, b = new_identity("nrs", Role.INDEXER), new_identity("nrs", Role.INDEXER)
    card = a.card()
    assert fingerprint(card.model_copy(update={"retired": True})) == fingerprint(card)
    assert fingerprint(card.model_copy(update={"created": NOW})) == fingerprint(card)
    swapped_enc = card.model_copy(update={"encryption_key": b.card().encryption_key})
    swapped_sig = card.model_copy(update={"signing_key": b.card().signing_key})
    assert len({fingerprint(card), fingerprint(swapped_enc), fingerprint(swapped_sig)}) == 3


def test_fingerprint_is_shown_in_sixteen_groups_of_four() -> None:
    shown = format_fingerprint("0123456789abcdef" * 4)
    assert shown.split(" ") == ["0123", "4567", "89ab", "cdef"] * 4


def test_repr_shows_no_secret() -> None:
    identity = new_identity("nrs", Role.INDEXER)
    text = repr(identity)
    secret = identity.secret_text()
    assert "AGE-SECRET-KEY" not in text
    seed = secret.split("ed25519-secret:")[1].split("\n")[0]
    assert seed not in text


@given(
    party=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    role=st.sampled_from(list(Role)),
    created=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_secret_text_round_trips(party: str, role: Role, created: datetime) -> None:
    identity = new_identity(party, role, now=created)
    again = SecretIdentity.from_secret_text(identity.secret_text())
    assert (again.party, again.role, again.created) == (party, role, identity.created)
    assert again.card() == identity.card()
    message = b"linkwell test message"
    signature = again.signing_key.sign(message)
    identity.signing_key.public_key().verify(signature, message)


def _variants() -> list[tuple[str, str]]:
    text = new_identity("nrs", Role.INDEXER, now=NOW).secret_text()
    lines = text.split("\n")
    seed_line = next(line for line in lines if line.startswith("# signing-key:"))
    seed = base64.b64decode(seed_line.split(":", 2)[2])
    # Base64 with non-zero unused bits decodes to the same seed: it must still be refused.
    loose = (
        base64.b64encode(seed).decode()[:-2]
        + chr(ord(base64.b64encode(seed).decode()[-2]) + 1)
        + "="
    )
    return [
        (
            "first line",
            text.replace(SECRET_TEXT_FIRST_LINE, "# linkwell secret identity, format 2"),
        ),
        ("duplicate", text.replace("# role: indexer\n", "# role: indexer\n# role: linker\n")),
        ("missing", text.replace("# role: indexer\n", "")),
        ("two keys", text + lines[-2] + "\n"),
        ("no key", "\n".join(lines[:-2]) + "\n"),
        ("bad role", text.replace("# role: indexer", "# role: admin")),
        ("naive time", text.replace("2026-01-02T09:30:15Z", "2026-01-02T09:30:15")),
        ("bad time", text.replace("2026-01-02T09:30:15Z", "yesterday")),
        ("bad party", text.replace("# party: nrs", "# party: NRS")),
        ("short seed", text.replace(seed_line, "# signing-key: ed25519-secret:AAAA")),
        ("loose seed", text.replace(seed_line, f"# signing-key: ed25519-secret:{loose}")),
        ("seed prefix", text.replace("ed25519-secret:", "rsa-secret:")),
        ("bad age key", text.replace(lines[-2], lines[-2][:-4] + "QQQQ")),
    ]


@pytest.mark.parametrize(("case", "text"), _variants())
def test_secret_text_is_parsed_strictly(case: str, text: str) -> None:
    with pytest.raises(IdentityError) as info:
        SecretIdentity.from_secret_text(text, file="id.age")
    assert info.value.file == "id.age"
    assert "AGE-SECRET-KEY" not in str(info.value)
    cause = info.value.__cause__
    assert cause is None or "AGE-SECRET-KEY" not in str(cause)


def test_party_name_and_time_zone_are_required() -> None:
    with pytest.raises(IdentityError, match="party name"):
        new_identity("Not A Slug", Role.INDEXER)
    identity = new_identity("nrs", Role.INDEXER)
    with pytest.raises(IdentityError, match="time zone"):
        SecretIdentity(
            party="nrs",
            role=Role.INDEXER,
            created=datetime(2026, 1, 1),
            age_identity=__import__("pyrage").x25519.Identity.generate(),
            signing_key=identity.signing_key,
        )


def test_created_is_kept_in_utc() -> None:
    local = datetime(2026, 6, 1, 12, 0, tzinfo=UTC) + timedelta(hours=0)
    identity = new_identity("nrs", Role.INDEXER, now=local.astimezone())
    assert identity.created.tzinfo is UTC
    assert identity.created == local
