"""`PhoneParsePool`: the phone numbers of a large contact list parsed on several cores.

Parsing is most of a cold GET /contacts (libphonenumber in pure Python, about
25 µs a number: 1,000 contacts with 2,000 new numbers are 50 ms of CPU). For a
list with at least `PhoneParsePool.min_numbers` numbers the memo does not know,
the pool splits them: its worker processes parse a share each while the event
loop's process parses its own, and the results go into the phone memo, so the
sanitizing that follows finds every number there. The workers run the very
same `integration_bridge.phone` code: the answers are byte-identical to
parsing in-process, only sooner.

The workers start on first need, in the background (that list is still parsed
in-process), from a ``forkserver`` that imported `integration_bridge.phone`
once; a pool that cannot start or breaks is given up and parsing stays
in-process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from integration_bridge import phone

__all__ = ["PhoneParsePool"]

_log = logging.getLogger("integration_bridge.phone")


class PhoneParsePool:
    """Parses the new phone numbers of large lists in ``workers`` processes beside this one.

    Args:
        workers: worker processes (0: always parse in-process).
        min_numbers: below this many new numbers a list is parsed in-process
            (handing numbers to another process costs more than it saves).
    """

    def __init__(self, workers: int, min_numbers: int = 256) -> None:
        self.workers = workers
        self.min_numbers = min_numbers
        self._executor: Executor | None = None
        self._ready = False
        self._starting: asyncio.Task[None] | None = None

    async def prime(self, contacts: Iterable[Mapping[str, Any]], locale: str) -> None:
        """Put every new number of ``contacts`` into the phone memo, on several cores if many."""
        if self.workers <= 0:
            return
        region = phone.region_of_locale(locale)
        numbers = phone.unknown_numbers(_numbers_of(contacts), region)
        if len(numbers) < self.min_numbers:
            return
        if not self._ready:
            self._start()
            return  # this list is parsed in-process while the workers start
        parts = _split(numbers, self.workers + 1)
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        try:
            futures = [
                loop.run_in_executor(self._executor, phone.parse_numbers, part, region)
                for part in parts[1:]
            ]
        except (BrokenProcessPool, RuntimeError):
            self._give_up()
            return
        phone.remember(parts[0], region, phone.parse_numbers(parts[0], region))
        for part, future in zip(parts[1:], futures, strict=True):
            try:
                phone.remember(part, region, await future)
            except BrokenProcessPool:
                self._give_up()
                return  # what is not in the memo is parsed in-process by the caller

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


def _numbers_of(contacts: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    for contact in contacts:
        numbers = contact.get("phoneNumbers")
        if isinstance(numbers, list):
            for entry in numbers:
                if isinstance(entry, Mapping):
                    yield str(entry.get("phoneNumber", ""))


def _split(items: list[str], parts: int) -> list[list[str]]:
    size = -(-len(items) // parts)
    return [items[start : start + size] for start in range(0, len(items), size)]
