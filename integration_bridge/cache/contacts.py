"""The stale-while-revalidate contact cache behind GET /contacts.

Entries (compatible with the original framework):

* ``<api key>``: the sanitized contact list as JSON;
* ``cache-state:<api key>``: ``{"state": "CACHED" | "FETCHING", "timestamp": <ms>}``.

The FETCHING state is the guard that makes one process (of many sharing a
Redis) fetch a key: it is taken atomically (`Storage.add` when absent,
`Storage.swap` when replacing a stale CACHED state). Within one process,
concurrent requests for a key share one fetch task (`SingleFlight`). Storage
failures never fail a request (`BestEffort`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from integration_bridge.cache.guards import BestEffort, WarningThrottle
from integration_bridge.cache.single_flight import SingleFlight
from integration_bridge.cache.storage import Blob, Storage
from integration_bridge.errors import ServerError
from integration_bridge.logging import anonymize_key
from integration_bridge.models import Config

__all__ = [
    "RESERVED_KEY_PREFIXES",
    "CachedContacts",
    "ContactCache",
    "cache_state_key",
    "is_reserved_key",
]

_log = logging.getLogger("integration_bridge.cache")

FETCHING_STATE_TTL = 1800
"""Seconds a FETCHING marker lives: a crashed fetcher blocks nobody for longer."""

Fetcher = Callable[[Config], Awaitable[list[dict[str, Any]]]]
"""Fetches and prepares (validates, sanitizes) a user's contact list."""


_STATE_PREFIX = "cache-state:"
RESERVED_KEY_PREFIXES = (_STATE_PREFIX, "AUTH:")
"""Storage keys that begin so belong to the cache's state entries and the token cache.

A provider key is a storage key of its own (the contact list's), so a provider
key with such a prefix would read or overwrite another user's entries
(``cache-state:<victim key>``); requests carrying one are refused (400).
"""


def is_reserved_key(key: str) -> bool:
    """Whether a provider key collides with the cache's own entries."""
    return key.startswith(RESERVED_KEY_PREFIXES)


def cache_state_key(key: str) -> str:
    """The key of the state entry for a contact list key."""
    return _STATE_PREFIX + key


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class CachedContacts:
    """What GET /contacts answers: the list (None while pending) and whether it is pending.

    ``outcome`` says how it was decided (for traces and metrics): ``fresh`` (cached and
    current), ``stale`` (cached, a refresh runs), ``miss`` (fetched for this request) or
    ``pending`` (not ready within the fetch timeout, or another process fetches).
    """

    blob: Blob | None
    pending: bool = False
    outcome: str = "fresh"


_PENDING = CachedContacts(None, pending=True, outcome="pending")
_STATE_MEMO_ENTRIES = 256  # state documents remembered per cache (one per user and write)
_STATE_MEMO_MAX_LENGTH = 1024  # ours are about 50 bytes; anything longer is not kept


class ContactCache:
    """Contact lists per api key on a `Storage`, refreshed in the background when stale."""

    def __init__(
        self,
        storage: Storage,
        fetch: Fetcher,
        *,
        refresh_interval: float = 1800.0,
        fetch_timeout: float = 5.0,
    ) -> None:
        self.storage = storage
        self._fetch = fetch
        self.refresh_interval = max(1.0, refresh_interval)
        self.fetch_timeout = fetch_timeout
        self._fetches: SingleFlight[str, Blob] = SingleFlight()
        self._background: set[asyncio.Task[Any]] = set()
        # An outage under load: one line per 10 s about skipped writes.
        self._safe = BestEffort(WarningThrottle(_log, 10.0), "ContactCache")
        self._cached_at: dict[bytes, float] = {}  # state document -> when it was CACHED (ms)

    # -- reading --------------------------------------------------------------------

    def fresh(self, config: Config) -> Blob | None:
        """The cached list for ``config`` when it is current and at hand, without awaiting.

        None means "ask `get`": no provider key, nothing cached, a list being
        fetched or stale, or a store that cannot answer without I/O (Redis).
        GET /contacts asks this first, so that a current list from the memory
        store is served without a coroutine; `get` decides every other case.
        """
        key = config.api_key
        if not key or key.startswith(RESERVED_KEY_PREFIXES):
            return None
        read = self.storage.get_many_now(_STATE_PREFIX + key, key)  # `cache_state_key`, inlined
        if read is None:
            return None
        state_blob, cached = read
        if cached is None or state_blob is None:
            return None
        return cached if self._is_current(state_blob) else None

    def _is_current(self, state_blob: Blob) -> bool:
        """Whether the state document says CACHED within the refresh interval."""
        try:
            state_json = state_blob.json
        except (OSError, EOFError):  # a gzip form that does not decompress
            return False
        cached_at = self._cached_at.get(state_json)
        if cached_at is None:
            cached_at = self._remember_state(state_json)
        return time.time() * 1000 - cached_at <= self.refresh_interval * 1000

    def _remember_state(self, state_json: bytes) -> float:
        """When a CACHED state document was written, in ms (-inf: another state, undecodable).

        Kept per document, a pure function of its bytes: every request reads the
        same state until it is written again. The memo is cleared when full.
        """
        cached_at = -math.inf
        state = _decode_json(state_json)
        if isinstance(state, dict) and state.get("state") == "CACHED":
            timestamp = state.get("timestamp")
            if isinstance(timestamp, (int, float)):  # a tuple: faster than int | float
                cached_at = timestamp
        if len(state_json) <= _STATE_MEMO_MAX_LENGTH:
            if len(self._cached_at) >= _STATE_MEMO_ENTRIES:
                self._cached_at.clear()
            self._cached_at[state_json] = cached_at
        return cached_at

    async def get(self, config: Config) -> CachedContacts:
        """The cached list for ``config.api_key``, fetching or refreshing as needed.

        Without a provider key nothing is cached (two keyless callers must never
        share a list): the list is fetched as with ``CACHE_DISABLED``.

        Raises:
            ServerError: 400 for a provider key with a reserved prefix.
        """
        key = config.api_key
        if not key:
            return await self.fetch_uncached(config)
        if key.startswith(RESERVED_KEY_PREFIXES):  # `is_reserved_key`, inlined: every request
            raise ServerError(400, "Invalid x-provider-key: reserved prefix")
        state_key = "cache-state:" + key  # `cache_state_key`, inlined
        read = self.storage.get_many_now(state_key, key)  # a memory store: no await at all
        if read is None:
            missing: list[Blob | None] = [None, None]
            read = await self._safe.read(self.storage.get_many(state_key, key), missing)
        state_blob, cached = read
        if cached is not None and state_blob is not None and self._is_current(state_blob):
            return CachedContacts(cached)
        state = _decode_state(state_blob)
        if state is not None and state.get("state") == "FETCHING":
            if cached is not None and not _is_empty_list(cached):
                return CachedContacts(cached, outcome="stale")
            inflight = self._fetches.running(key)
            if inflight is None:
                return _PENDING
            return await self._wait(inflight)
        if cached is not None:
            if state is None or _is_stale(state, self.refresh_interval):
                self._refresh_in_background(config, state_blob)
                return CachedContacts(cached, outcome="stale")
            return CachedContacts(cached)
        task = self._fetches.running(key)
        if task is None:
            if not await self._take_guard(key, state_blob):
                return _PENDING  # another process is fetching this key right now
            task = self._start_fetch(config)
        return await self._wait(task)

    async def _wait(self, task: asyncio.Task[Blob]) -> CachedContacts:
        try:
            blob = await asyncio.wait_for(asyncio.shield(task), self.fetch_timeout)
        except TimeoutError:
            return _PENDING
        return CachedContacts(blob, outcome="miss")

    async def fetch_uncached(self, config: Config) -> CachedContacts:
        """Fetch without any cache (``CACHE_DISABLED``), bounded by ``fetch_timeout``.

        Past the timeout the answer is pending, as with the cache on (the original's
        behaviour), and the fetch is cancelled: no cache would keep its result.
        """
        try:
            contacts = await asyncio.wait_for(self._fetch(config), self.fetch_timeout)
        except TimeoutError:
            return _PENDING
        return CachedContacts(Blob.of(contacts))

    # -- fetching -------------------------------------------------------------------

    async def _take_guard(self, key: str, seen_state: Blob | None) -> bool:
        """Atomically set FETCHING; False when another fetcher holds it."""
        fetching = Blob.of({"state": "FETCHING", "timestamp": _now_ms()})
        state_key = cache_state_key(key)
        if seen_state is None:
            take = self.storage.add(state_key, fetching, FETCHING_STATE_TTL)
        else:
            take = self.storage.swap(state_key, seen_state, fetching, FETCHING_STATE_TTL)
        return await self._safe.read(take, True)  # no shared guard without storage: fetch

    def _start_fetch(self, config: Config) -> asyncio.Task[Blob]:
        key = config.api_key
        return self._fetches.start(
            key, lambda: self._fetch_and_store(config), name=f"contacts:{key[-6:]}"
        )

    async def _fetch_and_store(self, config: Config) -> Blob:
        key = config.api_key
        state_key = cache_state_key(key)
        started = time.perf_counter()
        try:
            contacts = await self._fetch(config)
        except BaseException:
            await self._safe.write(
                self.storage.delete(state_key), f"state reset for {anonymize_key(key)}"
            )
            raise
        blob = Blob.of(contacts)
        await self._safe.write(self.storage.set(key, blob), f"list write for {anonymize_key(key)}")
        cached = Blob.of({"state": "CACHED", "timestamp": _now_ms()})
        await self._safe.write(
            self.storage.set(state_key, cached), f"state write for {anonymize_key(key)}"
        )
        _log.info(
            "[ContactCache] Fetched %d contacts in %.0fms",
            len(contacts),
            (time.perf_counter() - started) * 1000,
        )
        return blob

    def _refresh_in_background(self, config: Config, seen_state: Blob | None) -> None:
        if config.api_key in self._fetches:
            return

        async def refresh() -> None:
            if not await self._take_guard(config.api_key, seen_state):
                return
            if config.api_key in self._fetches:
                return
            try:
                await self._start_fetch(config)
            except Exception:
                _log.warning("[ContactCache] Background refresh failed", exc_info=True)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- for bridge authors: read or drop a user's list ---------------------------------

    async def peek(self, key: str) -> list[dict[str, Any]] | None:
        """The list cached for ``key`` as it is, without fetching; None when none is."""
        cached = await self._safe.read(self.storage.get(key), None)
        contacts = cached.value() if cached is not None else None
        return contacts if isinstance(contacts, list) else None

    async def drop(self, key: str) -> None:
        """Forget the list and its state for ``key``: the next GET /contacts fetches."""
        await self._safe.write(self.storage.delete(key), "delete of list")
        await self._safe.write(self.storage.delete(cache_state_key(key)), "delete of state")

    # -- writes after POST/PUT/DELETE --------------------------------------------------

    async def add_contact(self, config: Config, contact: dict[str, Any]) -> None:
        """Append a created contact to the cached list, if a list is cached."""
        await self._edit(config, lambda contacts: [*contacts, contact])

    async def replace_contact(self, config: Config, id: str, contact: dict[str, Any]) -> None:
        """Replace the cached entry with ``id``, if a list is cached."""
        await self._edit(
            config, lambda contacts: [contact if c.get("id") == id else c for c in contacts]
        )

    async def remove_contact(self, config: Config, id: str) -> None:
        """Remove the cached entry with ``id``, if a list is cached."""
        await self._edit(config, lambda contacts: [c for c in contacts if c.get("id") != id])

    async def _edit(
        self,
        config: Config,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> None:
        key = config.api_key
        if not key or is_reserved_key(key):
            return
        cached = await self._safe.read(self.storage.get(key), None)
        if cached is None:
            return
        contacts = cached.value()
        if not isinstance(contacts, list):
            return
        await self._safe.write(self.storage.set(key, Blob.of(change(contacts))), "update for list")

    async def close(self) -> None:
        """Wait for background refreshes to settle (bounded), then cancel the rest."""
        pending = [*self._background, *self._fetches.tasks()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=1.0)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)


def _decode_state(blob: Blob | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    try:
        state = _decode_json(blob.json)
    except (OSError, EOFError):  # a gzip form that does not decompress
        return None
    return state if isinstance(state, dict) else None


def _decode_json(data: bytes) -> Any:
    """The decoded document, or None when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _is_stale(state: dict[str, Any], refresh_interval: float) -> bool:
    if state.get("state") != "CACHED":
        return True
    timestamp = state.get("timestamp")
    if not isinstance(timestamp, (int, float)):  # a tuple: faster than int | float
        return True
    return time.time() * 1000 - timestamp > refresh_interval * 1000


def _is_empty_list(blob: Blob) -> bool:
    return blob.json.strip() in (b"[]", b"")
