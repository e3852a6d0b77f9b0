"""`PhoneParsePool`: the phone numbers of a large contact list parsed on several cores.

Parsing is most of a cold GET /contacts (libphonenumber in pure Python, about
25 µs a number: 1,000 contacts with 2,000 new numbers are 50 ms of CPU). For a
list with at least `PhoneParsePool.min_numbers` numbers the memo does not know,
the pool starts handing them, in chunks of `PhoneParsePool.chunk`, to its
worker processes as soon as the adapter's answer is there, before the list is
even validated; the results go into the phone memo, so the sanitizing that
follows finds every number there. The workers run the very same
`integration_bridge.phone` code: the answers are byte-identical to parsing
in-process, only sooner.

The event loop's process does its share too, without a fixed split: once it
has validated the list, it parses the chunks no worker has taken yet, last
first, then waits for the chunks the workers took (`PoolParsing`). However
busy the machine, neither side idles while the other has work left, and with
no core free the list costs little more than parsing it in-process.

The workers start on first need, in the background (that list is still parsed
in-process), from a ``forkserver`` that imported `integration_bridge.phone`
once; a pool that cannot start or breaks is given up and parsing stays
in-process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from integration_bridge import phone

__all__ = ["PhoneParsePool", "PoolParsing"]

_log = logging.getLogger("integration_bridge.phone")


class PoolParsing:
    """The new numbers of one list, in chunks; `finish` puts them all in the phone memo.

    Chunks are taken from both ends of one queue: the workers' from the front,
    two per worker at a time (one running, one waiting, so a worker never idles
    between chunks), the next one sent from the executor's thread as soon as
    one is done; this process's from the back, in `finish`. No chunk is ever
    taken back from the executor: cancelling a queued call breaks Python 3.11's
    executor when a worker dies later (its manager thread fails on the
    cancelled future and every other future waits forever).
    """

    def __init__(self, pool: PhoneParsePool, region: str, chunks: list[list[str]]) -> None:
        self._pool = pool
        self._region = region
        self._lock = threading.Lock()
        self._todo = deque(chunks)
        self._sent: list[tuple[list[str], Future[list[Any]]]] = []
        self._closed = False
        self._broken = False  # set from the executor's thread; the pool is given up in `finish`
        for _ in range(2 * pool.workers):
            self._send()

    def _send(self, _done: object = None) -> None:
        """Hand the front chunk to the workers (also the callback of every chunk sent)."""
        executor = self._pool._executor
        with self._lock:
            if self._closed or not self._todo or executor is None:
                return
            chunk = self._todo.popleft()
            try:
                future = executor.submit(phone.parse_numbers, chunk, self._region)
            except (BrokenProcessPool, RuntimeError) as error:  # broken or shut down
                self._todo.appendleft(chunk)  # parsed here
                self._broken = isinstance(error, BrokenProcessPool)
                return
            self._sent.append((chunk, future))
        future.add_done_callback(self._send)

    def _take_back(self) -> list[str] | None:
        with self._lock:
            if self._todo:
                return self._todo.pop()
            self._closed = True
            return None

    async def finish(self) -> None:
        """Parse the chunks no worker took, here, last first; then collect the workers' chunks."""
        region = self._region
        while (chunk := self._take_back()) is not None:
            phone.remember(chunk, region, phone.parse_numbers(chunk, region))
        if self._broken:
            self._pool._give_up()
        for chunk, future in self._sent:
            try:
                results = await asyncio.wrap_future(future)
            except BrokenProcessPool:  # a worker died: the pool is given up
                self._pool._give_up()
                results = phone.parse_numbers(chunk, region)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this request was cancelled, not the chunk
                results = phone.parse_numbers(chunk, region)  # the pool was closed meanwhile
            phone.remember(chunk, region, results)

    def cancel(self) -> None:
        """Send no more chunks (the list turned out invalid)."""
        with self._lock:
            self._closed = True


class PhoneParsePool:
    """Parses the new phone numbers of large lists in ``workers`` processes beside this one.

    Args:
        workers: worker processes (0: always parse in-process).
        min_numbers: below this many new numbers a list is parsed in-process
            (handing numbers to another process costs more than it saves).
        chunk: numbers per piece of work; small enough to share a list fairly,
            large enough that a worker never waits for the next piece.
    """

    def __init__(self, workers: int, min_numbers: int = 256, chunk: int = 128) -> None:
        self.workers = workers
        self.min_numbers = min_numbers
        self.chunk = chunk
        self._executor: ProcessPoolExecutor | None = None
        self._ready = False
        self._starting: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Whether worker processes are running and take work."""
        return self._ready

    def start(self, contacts: Iterable[Any], locale: str) -> PoolParsing | None:
        """Hand the new numbers of ``contacts`` (raw or validated) to the workers.

        Returns None when the list is parsed in-process: too few new numbers,
        no workers configured, or workers still starting (then they start now,
        in the background).
        """
        if self.workers <= 0:
            return None
        region = phone.region_of_locale(locale)
        numbers = phone.unknown_numbers(_numbers_of(contacts), region)
        if len(numbers) < self.min_numbers:
            return None
        if not self._ready:
            self._start()
            return None
        size = self.chunk
        chunks = [numbers[start : start + size] for start in range(0, len(numbers), size)]
        return PoolParsing(self, region, chunks)

    async def prime(self, contacts: Iterable[Any], locale: str) -> None:
        """Put every new number of ``contacts`` into the phone memo, on several cores if many."""
        parsing = self.start(contacts, locale)
        if parsing is not None:
            await parsing.finish()

    def _start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._warm_up())

    async def _warm_up(self) -> None:
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["integration_bridge.phone"])
            executor = ProcessPoolExecutor(self.workers, mp_context=context)
            self._executor = executor
            loop = asyncio.get_running_loop()
            sample = ["+49 30 1234567", "0211 123456", "(415) 555-0100", "+44 20 7946 0000"]
            await asyncio.gather(
                *(
                    loop.run_in_executor(executor, phone.parse_numbers, sample, "DE")
                    for _ in range(self.workers)
                )
            )
        except Exception:  # no processes on this system, or they died: stay in-process
            _log.warning("[PhoneParsePool] Worker processes unavailable", exc_info=True)
            self._give_up()
            return
        self._ready = True

    def _give_up(self) -> None:
        self.workers = 0
        self._ready = False
        self.close()

    def close(self) -> None:
        """Stop the worker processes (pending work is dropped)."""
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _numbers_of(contacts: Iterable[Any]) -> Iterable[str]:
    """The numbers of raw or validated contacts (mappings; anything else has none to offer)."""
    for contact in contacts:
        if not isinstance(contact, Mapping):
            continue
        numbers = contact.get("phoneNumbers")
        if isinstance(numbers, list):
            for entry in numbers:
                if isinstance(entry, Mapping):
                    number = entry.get("phoneNumber")
                    if isinstance(number, str):
                        yield number
