"""One retry policy for every caller: the CRM helpers and the Pub/Sub publisher.

`RetryPolicy` says which failures are worth another try and how long to wait
before it. Retryable: connection errors, timeouts and the statuses in
`RETRYABLE_STATUSES` (408, 429, 500, 502, 503, 504). Never retried, because
another try cannot succeed: a malformed URL (`aiohttp.InvalidURL`, e.g. a
missing ``x-provider-url``), a refused TLS certificate or handshake
(`aiohttp.ClientSSLError`), any other status. The wait doubles from
``base_delay`` up to ``max_delay``; a ``Retry-After`` header wins; ``jitter``
spreads retries of many clients (a random 50-100 % of the wait).

A policy is itself a `RetryDecider` (``policy(error, retries)``), so it goes
wherever a decider does.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

import aiohttp

__all__ = [
    "NO_RETRY",
    "RETRYABLE_STATUSES",
    "RetryDecider",
    "RetryDecision",
    "RetryPolicy",
    "is_retryable",
    "retry_after_seconds",
]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another try: timeouts, rate limits, a server or gateway in trouble."""


class RetryDecision(NamedTuple):
    """Whether to try again, and after how many seconds."""

    retry: bool
    delay: float = 0.0


RetryDecider = Callable[[BaseException, int], RetryDecision | Awaitable[RetryDecision]]
"""Gets the error and how many retries were made so far; answers a `RetryDecision`."""

NO_RETRY = RetryDecision(False)

_NEVER_RETRIED = (aiohttp.InvalidURL, aiohttp.ClientSSLError)


def is_retryable(error: BaseException, statuses: frozenset[int] = RETRYABLE_STATUSES) -> bool:
    """Whether another try of what failed with ``error`` could succeed."""
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status in statuses
    if isinstance(error, _NEVER_RETRIED):
        return False
    return isinstance(error, aiohttp.ClientError | TimeoutError | ConnectionError)


def retry_after_seconds(error: BaseException) -> float | None:
    """The ``Retry-After`` of an error's response in seconds, when it says."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or getattr(error, "headers", None)
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: the policy's own backoff applies
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return max(0.0, moment.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which failures to retry, how often, and how long to wait in between.

    Args:
        statuses: response statuses worth another try.
        max_retries: retries after the first attempt (None: unbounded; the
            caller bounds them, e.g. by a deadline).
        base_delay: seconds before the first retry, doubled for each further one.
        max_delay: the longest wait, also for a ``Retry-After`` header.
        jitter: wait a random 50-100 % of the computed delay.
    """

    statuses: frozenset[int] = RETRYABLE_STATUSES
    max_retries: int | None = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = False

    def is_retryable(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another try under this policy."""
        return is_retryable(error, self.statuses)

    def delay(self, retries: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry number ``retries + 1``."""
        after = retry_after_seconds(error) if error is not None else None
        if after is not None:
            return min(after, self.max_delay)
        delay = min(self.base_delay * 2.0**retries, self.max_delay)
        return delay * (0.5 + random.random() / 2) if self.jitter else delay

    def __call__(self, error: BaseException, retries: int) -> RetryDecision:
        """The decision after ``error`` with ``retries`` retries made so far."""
        if self.max_retries is not None and retries >= self.max_retries:
            return NO_RETRY
        if not self.is_retryable(error):
            return NO_RETRY
        return RetryDecision(True, self.delay(retries, error))
