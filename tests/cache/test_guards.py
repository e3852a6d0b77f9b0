"""The circuit breaker, the warning throttle, the best-effort wrapper and single flight."""

from __future__ import annotations

import asyncio
import logging

import pytest

from integration_bridge.cache.guards import (
    BestEffort,
    BreakerOpen,
    CircuitBreaker,
    WarningThrottle,
)
from integration_bridge.cache.single_flight import SingleFlight
from integration_bridge.cache.storage import StorageUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(StorageUnavailable), breaker.attempt():
        raise StorageUnavailable("down")


def test_breaker_fails_fast_for_the_backoff_after_a_failure() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1.0, clock=clock)
    fail(breaker)
    assert not breaker.closed
    clock.now += 0.99
    with pytest.raises(BreakerOpen), breaker.attempt():
        pytest.fail("ran while failing fast")
    clock.now += 0.02
    with breaker.attempt():
        pass
    assert breaker.closed


def test_breaker_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    recovered: list[bool] = []
    breaker = CircuitBreaker(1.0, clock=clock, on_recover=lambda: recovered.append(True))
    fail(breaker)
    clock.now += 2
    # While the probe (the first attempt) runs, a second attempt fails fast.
    with breaker.attempt(), pytest.raises(BreakerOpen), breaker.attempt():
        pytest.fail("a second probe ran")
    assert breaker.closed and recovered == [True]


def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1.0, clock=clock)
    fail(breaker)
    clock.now += 2
    fail(breaker)  # the probe
    with pytest.raises(BreakerOpen), breaker.attempt():
        pytest.fail("ran while failing fast")


def test_other_errors_do_not_open_the_breaker() -> None:
    breaker = CircuitBreaker(1.0)
    with pytest.raises(KeyError), breaker.attempt():
        raise KeyError("a bug, not an outage")
    assert breaker.closed


def test_throttle_logs_once_per_interval_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    throttle = WarningThrottle(logging.getLogger("test.throttle"), 10.0, clock=clock)
    with caplog.at_level("WARNING", logger="test.throttle"):
        assert throttle.warn("%s failed (%d times)", "GET")
        assert not throttle.warn("%s failed (%d times)", "GET")
        clock.now += 9.9
        assert not throttle.warn("%s failed (%d times)", "GET")
        clock.now += 0.1
        assert throttle.warn("%s failed (%d times)", "SET")
    assert [r.getMessage() for r in caplog.records] == [
        "GET failed (1 times)",
        "SET failed (3 times)",
    ]


async def test_best_effort_turns_outages_into_defaults(caplog: pytest.LogCaptureFixture) -> None:
    async def down() -> int:
        raise StorageUnavailable("down")

    async def up() -> int:
        return 7

    safe = BestEffort(WarningThrottle(logging.getLogger("test.safe")), "Cache")
    with caplog.at_level("WARNING", logger="test.safe"):
        assert await safe.read(down(), 0) == 0
        assert await safe.read(up(), 0) == 7
        assert await safe.write(down(), "list write") is None
        assert await safe.write(up(), "list write") == 7
    assert [r.getMessage() for r in caplog.records] == [
        "[Cache] Skipped list write: storage unavailable (1 skipped writes)"
    ]


async def test_single_flight_shares_one_task_and_forgets_it() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    first = flights.start("k", work)
    assert flights.start("k", work) is first and flights.running("k") is first
    assert flights.running("other") is None and "other" not in flights
    release.set()
    assert await first == 1
    await asyncio.sleep(0)
    assert "k" not in flights and flights.tasks() == []
    assert await flights.start("k", work) == 2


async def test_single_flight_failure_is_retrieved_and_forgotten() -> None:
    flights: SingleFlight[str, int] = SingleFlight()

    async def boom() -> int:
        raise RuntimeError("refresh failed")

    task = flights.start("k", boom)
    with pytest.raises(RuntimeError, match="refresh failed"):
        await task
    await asyncio.sleep(0)
    assert flights.running("k") is None
