from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.errors import TransferError
from linkwell.transport.retry import RetryPolicy, backoff_delays, retry

POLICIES = st.builds(
    RetryPolicy,
    attempts=st.integers(min_value=1, max_value=30),
    first_delay=st.floats(min_value=0.01, max_value=5),
    max_delay=st.floats(min_value=5, max_value=60),
    multiplier=st.floats(min_value=1, max_value=4),
)


@given(policy=POLICIES, seed=st.integers())
def test_delays_grow_within_half_to_full_cap(policy: RetryPolicy, seed: int) -> None:
    delays = list(backoff_delays(policy, random.Random(seed)))
    assert len(delays) == policy.attempts - 1
    for failed, delay in enumerate(delays):
        cap = min(policy.max_delay, policy.first_delay * policy.multiplier**failed)
        assert cap / 2 <= delay <= cap
        assert delay <= policy.max_delay


def test_cap_may_not_be_below_first_delay() -> None:
    with pytest.raises(ValueError, match="max_delay"):
        RetryPolicy(first_delay=10, max_delay=1)


def test_transient_failures_are_retried_until_success() -> None:
    pauses: list[float] = []
    outcomes = iter([ConnectionResetError(), EOFError(), "done"])

    def flaky() -> str:
        item = next(outcomes)
        if isinstance(item, BaseException):
            raise item
        return item

    result = retry(
        flaky,
        what="test",
        policy=RetryPolicy(attempts=3, first_delay=1, max_delay=8),
        transient=lambda exc: True,
        sleep=pauses.append,
        rng=random.Random(1),
    )
    assert result == "done"
    assert len(pauses) == 2
    assert 0.5 <= pauses[0] <= 1
    assert 1 <= pauses[1] <= 2


def test_exhausted_attempts_raise_transfer_error_from_the_last_failure() -> None:
    calls = 0

    def always() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionResetError(f"reset {calls}")

    with pytest.raises(TransferError, match="failed 4 time") as info:
        retry(
            always,
            what="sending x.lwp",
            policy=RetryPolicy(attempts=4),
            transient=lambda exc: True,
            sleep=lambda _s: None,
        )
    assert calls == 4
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert str(info.value.__cause__) == "reset 4"
    assert "resumes" in (info.value.hint or "")


def test_permanent_failures_propagate_at_once() -> None:
    calls = 0

    def refused() -> None:
        nonlocal calls
        calls += 1
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        retry(
            refused,
            what="x",
            policy=RetryPolicy(attempts=5),
            transient=lambda exc: not isinstance(exc, PermissionError),
            sleep=lambda _s: pytest.fail("must not sleep"),
        )
    assert calls == 1
