"""Concurrent callers for one key share one running task (single flight).

Not `async-lru`: its ``alru_cache`` also shares one call between concurrent
callers, but it keeps each result afterwards (LRU, optional TTL), while both
caches here must keep nothing in process once the call ends (the result lives
in the shared `Storage`, where other replicas see it and TTLs apply). It also
cannot tell whether a call for a key is running without starting one, which
the contact cache needs (a stale list answers at once; a refresh starts only
when none runs), nor join only some calls (a forced token refresh must not
join a plain lookup).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """At most one running task per key; it is forgotten as soon as it ends."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[T]] = {}

    def running(self, key: K) -> asyncio.Task[T] | None:
        """The task running for ``key``, if any (never starts one)."""
        return self._tasks.get(key)

    def __contains__(self, key: K) -> bool:
        return key in self._tasks

    def start(
        self, key: K, call: Callable[[], Coroutine[Any, Any, T]], *, name: str | None = None
    ) -> asyncio.Task[T]:
        """The running task for ``key``, or a new one running ``call()``."""
        task = self._tasks.get(key)
        if task is not None:
            return task
        task = asyncio.create_task(call(), name=name)
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: K, task: asyncio.Task[T]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so never "exception was never retrieved"

    def tasks(self) -> list[asyncio.Task[T]]:
        """The tasks running now."""
        return list(self._tasks.values())
