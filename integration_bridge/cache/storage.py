"""The storage interface behind the caches, and its in-process memory store.

Values are JSON documents held as a `Blob`: the UTF-8 JSON bytes and, made
once on demand, their gzip form. Serving a cached value therefore never
re-encodes it; a store may keep either form and derive the other lazily.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

__all__ = ["Blob", "MemoryStorage", "Storage", "StorageUnavailable", "gzip_bytes"]

_GZIP_LEVEL = 6


class Blob:
    """One JSON document as bytes, with its gzip encoding made at most once.

    ``json`` and ``gzip`` are plain attributes once made: a form not made yet is
    made on first read (``__getattr__`` runs only for an unset slot), so serving
    a cached value reads an attribute and calls nothing.

    A plain value: what a store needs to remember about a Blob it returned
    (its raw form, its place in a memory budget) the store keeps itself.
    """

    __slots__ = ("__weakref__", "gzip", "json")

    json: bytes
    """The UTF-8 JSON bytes (decompressed on first read when only the gzip form is held)."""
    gzip: bytes
    """The gzip-compressed JSON bytes (compressed on first read)."""

    def __init__(self, json: bytes | None = None, *, gzip_bytes: bytes | None = None) -> None:
        if json is None and gzip_bytes is None:
            raise ValueError("a Blob needs its JSON or its gzip bytes")
        if json is not None:
            self.json = json
        if gzip_bytes is not None:
            self.gzip = gzip_bytes

    if not TYPE_CHECKING:  # for mypy, Blob has exactly its two attributes

        def __getattr__(self, name: str) -> bytes:
            # Python calls this only when a slot is unset: make that form from the other.
            if name == "gzip":
                self.gzip = made = gzip_bytes(_held(self, "json"))
            elif name == "json":
                self.json = made = gzip.decompress(_held(self, "gzip"))
            else:
                raise AttributeError(f"'Blob' object has no attribute {name!r}")
            return made

    @classmethod
    def of(cls, value: Any) -> Blob:
        """Encode a JSON-ready value."""
        return cls(orjson.dumps(value))

    @property
    def has_gzip(self) -> bool:
        """Whether the compressed form has been made."""
        return _holds(self, "gzip")

    @property
    def compressed_only(self) -> bool:
        """Whether only the compressed form is held now."""
        return not _holds(self, "json")

    def set_gzip(self, data: bytes) -> None:
        """Provide the compressed form (made elsewhere, e.g. in a thread)."""
        self.gzip = data

    def value(self) -> Any:
        """The decoded JSON value."""
        return orjson.loads(self.json)

    @property
    def nbytes(self) -> int:
        """Bytes held by the forms made so far."""
        return sum(len(_held(self, name)) for name in ("json", "gzip") if _holds(self, name))

    def drop_json(self) -> None:
        """Keep only the compressed form (the JSON is made again when asked for)."""
        if _holds(self, "json"):
            self.gzip  # noqa: B018 - make sure the compressed form exists first
            del self.json


def _held(blob: Blob, name: str) -> bytes:
    """A form the blob holds (AttributeError if not made: never makes it)."""
    made: bytes = object.__getattribute__(blob, name)
    return made


def _holds(blob: Blob, name: str) -> bool:
    try:
        object.__getattribute__(blob, name)
    except AttributeError:
        return False
    return True


def gzip_bytes(data: bytes) -> bytes:
    """gzip-compress with a fixed header (no timestamp), so equal inputs give equal outputs."""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


class StorageUnavailable(Exception):
    """The store could not be reached in time; callers fall through to the CRM."""


class Storage(ABC):
    """A key-value store of JSON documents with TTLs (memory or Redis).

    Methods raise `StorageUnavailable` when a remote store fails; callers treat
    that as a cache miss (reads) or a skipped write and never fail a request.
    """

    @abstractmethod
    async def get(self, key: str) -> Blob | None:
        """The value under ``key``, or None when absent or expired."""

    async def get_many(self, *keys: str) -> list[Blob | None]:
        """The values under ``keys``, in order (stores may fetch them in one round trip)."""
        return [await self.get(key) for key in keys]

    def get_many_now(self, *keys: str) -> list[Blob | None] | None:
        """`get_many` without awaiting, for a store that holds its values in this process.

        None means the store cannot answer without I/O (the default): use `get_many`.
        A store that overrides `get_many` answers both the same way.
        """
        return None

    @abstractmethod
    async def set(self, key: str, value: Blob, ttl: float | None = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (the store's default when None)."""

    @abstractmethod
    async def add(self, key: str, value: Blob, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent, atomically; True when stored."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""

    async def swap(self, key: str, expected: Blob, value: Blob, ttl: float | None = None) -> bool:
        """Replace the value under ``key`` only if it is still ``expected``; True when replaced.

        ``expected`` is a Blob this store returned from `get`. The default
        compares JSON and is not atomic; stores that can do better override it.
        """
        current = await self.get(key)
        if current is None or current.json != expected.json:
            return False
        await self.set(key, value, ttl)
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryStorage(Storage):
    """An in-process store bounded by bytes (least recently used go first) with a TTL.

    Large values are kept gzip-compressed; the plain JSON of the most recently
    used ones is kept beside it, within ``hot_bytes``, so that popular lists are
    served without inflating and the rest cost a fraction of their JSON size.
    A compressed value handed out may be inflated by its reader; the store
    notices at its next operation and counts the JSON against ``hot_bytes``.
    """

    # Rough per-entry cost of the dict slot, tuple, key and Blob objects.
    _ENTRY_OVERHEAD = 200
    # Values at least this large are compressed when stored.
    COMPRESS_MIN_BYTES = 4096
    # Compress values this large in a worker thread (zlib releases the GIL).
    _THREAD_MIN_BYTES = 256 * 1024
    # Readers inflate right after `get`: a few recent handouts are enough to watch.
    _SERVED_COLD_KEPT = 64

    def __init__(
        self,
        max_bytes: int = 400 * 1024 * 1024,
        default_ttl: float = 30 * 24 * 3600,
        *,
        hot_bytes: int = 8 * 1024 * 1024,
        clock: Any = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl
        self.hot_bytes = hot_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Blob, float]] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._hot: OrderedDict[str, int] = OrderedDict()  # key -> JSON bytes kept
        self._hot_total = 0
        self._bytes = 0
        # Compressed values handed out recently, which their readers may inflate.
        self._served_cold: OrderedDict[str, Blob] = OrderedDict()

    @property
    def used_bytes(self) -> int:
        """Bytes accounted to the entries held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str) -> Blob | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        blob, expires = entry
        if expires <= self._clock():
            self._remove(key)
            return None
        return blob

    def _remove(self, key: str) -> None:
        self._served_cold.pop(key, None)
        if self._entries.pop(key, None) is not None:
            self._bytes -= self._sizes.pop(key)
            hot = self._hot.pop(key, None)
            if hot is not None:
                self._hot_total -= hot

    def _account(self, key: str, blob: Blob) -> None:
        size = blob.nbytes + len(key) + self._ENTRY_OVERHEAD
        self._bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def _heat(self, key: str, blob: Blob) -> None:
        """Note that ``blob`` (compressed) holds its JSON now; cool others past the budget."""
        if blob.compressed_only or key not in self._sizes:
            return
        json_size = len(blob.json)
        self._hot_total += json_size - self._hot.pop(key, 0)
        self._hot[key] = json_size
        self._account(key, blob)
        while self._hot_total > self.hot_bytes and len(self._hot) > 1:
            cold_key, cold_size = self._hot.popitem(last=False)
            self._hot_total -= cold_size
            cold = self._entries[cold_key][0]
            cold.drop_json()
            self._account(cold_key, cold)

    def _put(self, key: str, value: Blob, ttl: float | None) -> None:
        self._remove(key)
        if value.nbytes + len(key) + self._ENTRY_OVERHEAD > self.max_bytes:
            return  # larger than the whole store: not cached at all
        expires = self._clock() + (self.default_ttl if ttl is None else ttl)
        self._entries[key] = (value, expires)
        self._account(key, value)
        if value.has_gzip:
            self._heat(key, value)
        while self._bytes > self.max_bytes and self._entries:
            self._remove(next(iter(self._entries)))

    def _settle(self) -> None:
        """Account the compressed values handed out that their readers inflated since."""
        for key, blob in list(self._served_cold.items()):
            if not blob.compressed_only:
                del self._served_cold[key]
                entry = self._entries.get(key)
                if entry is not None and entry[0] is blob:
                    self._heat(key, blob)

    async def _compress(self, value: Blob) -> None:
        size = len(value.json)
        if size < self.COMPRESS_MIN_BYTES or value.has_gzip:
            return
        if size >= self._THREAD_MIN_BYTES:
            value.set_gzip(await asyncio.to_thread(gzip_bytes, value.json))
        else:
            value.set_gzip(gzip_bytes(value.json))

    async def get(self, key: str) -> Blob | None:
        """The value under ``key`` (marks it recently used)."""
        self._settle()
        blob = self._live(key)
        if blob is not None:
            self._entries.move_to_end(key)
            if key in self._hot:
                self._hot.move_to_end(key)
            elif blob.compressed_only:
                self._served_cold[key] = blob
                self._served_cold.move_to_end(key)
                if len(self._served_cold) > self._SERVED_COLD_KEPT:
                    self._served_cold.popitem(last=False)
        return blob

    async def get_many(self, *keys: str) -> list[Blob | None]:
        """The values under ``keys`` (marks them recently used)."""
        return self.get_many_now(*keys)

    def get_many_now(self, *keys: str) -> list[Blob | None]:
        """The values under ``keys``, in one loop without awaiting (every cached read's path)."""
        found: list[Blob | None] = []
        now = self._clock()
        entries = self._entries
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                found.append(None)
            elif entry[1] <= now:
                self._remove(key)
                found.append(None)
            else:
                entries.move_to_end(key)
                if key in self._hot:
                    self._hot.move_to_end(key)
                found.append(entry[0])
        return found

    async def set(self, key: str, value: Blob, ttl: float | None = None) -> None:
        """Store ``value``, evicting least recently used entries past the byte bound."""
        self._settle()
        await self._compress(value)
        self._put(key, value, ttl)

    async def add(self, key: str, value: Blob, ttl: float | None = None) -> bool:
        """Store ``value`` if ``key`` is absent."""
        self._settle()
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        self._settle()
        self._remove(key)

    async def swap(self, key: str, expected: Blob, value: Blob, ttl: float | None = None) -> bool:
        """Replace the value only if it is still the very Blob ``expected``."""
        if self._live(key) is not expected:
            return False
        self._put(key, value, ttl)
        return True
