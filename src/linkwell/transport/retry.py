"""Retrying transient failures with capped exponential backoff and jitter.

A transfer that loses its connection is tried again after a pause that doubles each time up to a
cap, with random jitter so that many clients cut off together do not reconnect in lockstep. Which
failures are worth another attempt is the caller's decision (a ``transient`` predicate), because
only the transport knows whether an error means "the line dropped" or "the server said no".
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linkwell.errors import TransferError

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "backoff_delays", "retry"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SYSTEM_RANDOM: Final = random.SystemRandom()


class RetryPolicy(BaseModel):
    """How often and how patiently a transient failure is retried.

    Attempt ``n`` (counting from 1) that fails is followed by a pause drawn uniformly from
    ``[cap/2, cap]`` where ``cap = min(max_delay, first_delay * multiplier ** (n - 1))``: the
    lower half keeps the backoff growing, the random upper half spreads reconnecting clients.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=6, ge=1, le=100)
    first_delay: float = Field(default=0.5, gt=0, le=3600)
    max_delay: float = Field(default=30.0, gt=0, le=3600)
    multiplier: float = Field(default=2.0, ge=1, le=10)

    @model_validator(mode="after")
    def _cap_not_below_first(self) -> RetryPolicy:
        if self.max_delay < self.first_delay:
            msg = "max_delay must be at least first_delay"
            raise ValueError(msg)
        return self


DEFAULT_RETRY: Final = RetryPolicy()


def backoff_delays(policy: RetryPolicy, rng: random.Random | None = None) -> Iterator[float]:
    """The pauses after each failed attempt but the last: ``policy.attempts - 1`` values."""
    draw = rng or _SYSTEM_RANDOM
    for failed in range(policy.attempts - 1):
        cap = min(policy.max_delay, policy.first_delay * policy.multiplier**failed)
        yield cap / 2 + draw.random() * cap / 2


def retry(
    operation: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    transient: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``operation`` until it succeeds, retrying failures that ``transient`` accepts.

    A failure that is not transient propagates at once, unchanged. When every attempt failed
    transiently, a :class:`TransferError` naming ``what`` is raised from the last failure.
    """
    delays = backoff_delays(policy, rng)
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as exc:
            if not transient(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise TransferError(
                    f"{what} failed {policy.attempts} time(s): the connection kept failing",
                    hint="check the network and the server, then run the command again; "
                    "the transfer resumes where it stopped",
                ) from exc
            logger.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1fs",
                what,
                attempt,
                policy.attempts,
                type(exc).__name__,
                delay,
            )
            sleep(delay)
            attempt += 1
