"""Small objects that keep a failing store from failing requests.

* `CircuitBreaker`: after a failure, fail fast for a moment, then let exactly
  one call probe while the others still fail fast.
* `WarningThrottle`: one warning per interval, with the count of the ones held back.
* `BestEffort`: storage calls whose failure (`StorageUnavailable`) becomes a
  default value, shared by the contact cache and the token cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from integration_bridge.cache.storage import StorageUnavailable

__all__ = ["BestEffort", "BreakerOpen", "CircuitBreaker", "WarningThrottle"]

T = TypeVar("T")


class BreakerOpen(StorageUnavailable):
    """Failing fast: the store failed a moment ago and another call is probing it."""


class CircuitBreaker:
    """Fail fast for ``backoff`` seconds after a failure, then one probe at a time.

    Args:
        backoff: seconds to fail fast after a failure before probing again.
        on_recover: called when a call succeeds after a failure.
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(
        self,
        backoff: float,
        *,
        on_recover: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self._on_recover = on_recover
        self._clock = clock
        self._down_until = 0.0  # fail fast until then; 0: closed (healthy)
        self._probing = False

    @property
    def closed(self) -> bool:
        """True while calls go through (no failure since the last success)."""
        return self._down_until == 0.0

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Run the block unless failing fast; record its outcome.

        A `StorageUnavailable` from the block opens the breaker; success closes
        it. Anything else (cancellation, a bug) leaves the state as it was.

        Raises:
            BreakerOpen: within ``backoff`` of a failure, or while another call probes.
        """
        probe = False
        if self._down_until:
            if self._clock() < self._down_until or self._probing:
                raise BreakerOpen("failing fast after an error")
            probe = self._probing = True
        try:
            yield
        except StorageUnavailable:
            self._down_until = self._clock() + self.backoff
            raise
        else:
            if self._down_until:
                self._down_until = 0.0
                if self._on_recover is not None:
                    self._on_recover()
        finally:
            if probe:
                self._probing = False


class WarningThrottle:
    """Log a warning at most once per ``interval`` seconds, counting the ones held back.

    Args:
        logger: where the warnings go.
        interval: seconds between two warnings.
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last = -float("inf")
        self._count = 0

    def warn(self, message: str, *args: Any) -> bool:
        """Count one occurrence; log ``message % (*args, count)`` if the interval has passed.

        ``message`` ends with a ``%d`` placeholder for the number of occurrences
        since the last warning (this one included). Returns True when logged.
        """
        self._count += 1
        now = self._clock()
        if now - self._last < self.interval:
            return False
        self.logger.warning(message, *args, self._count)
        self._last = now
        self._count = 0
        return True


class BestEffort:
    """Storage calls that never fail a request.

    A read that fails is a miss (returns the default, silently: the caller
    falls through to the CRM); a write that fails is skipped with a
    rate-limited warning naming what was skipped.

    Args:
        throttle: the warnings of skipped writes.
        source: the ``[Source]`` prefix of those warnings.
    """

    def __init__(self, throttle: WarningThrottle, source: str) -> None:
        self.throttle = throttle
        self.source = source

    async def read(self, operation: Awaitable[T], default: T) -> T:
        """The result of ``operation``, or ``default`` when the store is unavailable."""
        try:
            return await operation
        except StorageUnavailable:
            return default

    async def write(self, operation: Awaitable[T], what: str) -> T | None:
        """The result of ``operation``, or None (logged, rate-limited) when the store fails."""
        try:
            return await operation
        except StorageUnavailable:
            self.throttle.warn(
                f"[{self.source}] Skipped %s: storage unavailable (%d skipped writes)", what
            )
            return None
