"""Redis storage on ``redis.asyncio``, byte-compatible with the original framework.

A value is the base64 of the zlib-deflated UTF-8 JSON, written with
``SET key value EX ttl``; entries written by a TypeScript bridge are read here
and the other way round. Every operation is bounded by a short timeout.

Failure handling is three small parts, each in one place:

* `redis_errors`: the one boundary where redis-py's exceptions (and socket
  errors, timeouts) become `StorageUnavailable`, as httpx's
  ``map_httpcore_exceptions`` does; callers fall through to the CRM.
* a `CircuitBreaker`: after a failure the store fails fast for a moment
  instead of making every request wait for a dead Redis; after ``backoff``
  seconds a single call probes Redis while the others still fail fast, and
  the first success closes it again.
* a `WarningThrottle`: outages are logged at most every ``WARNING_INTERVAL``
  seconds, with a count, and never with keys or values.

A `_DecodedMemo` keeps large decoded values while Redis holds the same bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import struct
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from integration_bridge.cache.guards import CircuitBreaker, WarningThrottle
from integration_bridge.cache.storage import Blob, Storage, StorageUnavailable

__all__ = ["RedisStorage", "decode_value", "encode_value", "redis_errors"]

P = ParamSpec("P")
T = TypeVar("T")

_log = logging.getLogger("integration_bridge.redis")

_ZLIB_LEVEL = 6
# Compare-and-swap: replace only if the raw value is still what was read.
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def encode_value(json: bytes) -> bytes:
    """base64(zlib(json)), as the original framework writes it."""
    return base64.b64encode(zlib.compress(json, _ZLIB_LEVEL))


def decode_value(raw: bytes | str) -> Blob:
    """A `Blob` of a stored value, with its gzip form made from the deflate stream.

    Raises:
        ValueError: not base64 of zlib data.
    """
    try:
        compressed = base64.b64decode(raw, validate=False)
        json = zlib.decompress(compressed)
    except (binascii.Error, zlib.error) as error:
        raise ValueError(f"not a base64 zlib value: {error}") from None
    return Blob(json, gzip_bytes=_gzip_from_zlib(compressed, json))


def _gzip_from_zlib(compressed: bytes, json: bytes) -> bytes | None:
    """Re-wrap a zlib stream's raw deflate data as gzip, without compressing again."""
    if len(compressed) < 6 or compressed[1] & 0x20:  # a preset dictionary: not portable
        return None
    deflate = compressed[2:-4]
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(json) & 0xFFFFFFFF, len(json) & 0xFFFFFFFF)
    return header + deflate + trailer


@contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Translate redis-py, socket and timeout errors into `StorageUnavailable`.

    Raises:
        StorageUnavailable: the block failed; the original error is its cause.
    """
    try:
        yield
    except (RedisError, OSError, TimeoutError) as error:
        raise StorageUnavailable(f"Redis {what} failed") from error


class _DecodedMemo:
    """Large decoded values by key, valid while Redis holds the very same raw bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[bytes, Blob]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, raw: bytes) -> Blob | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != raw:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, raw: bytes, blob: Blob) -> None:
        self.forget(key)
        self._entries[key] = (raw, blob)
        self._bytes += len(raw) + blob.nbytes
        while self._bytes > self.max_bytes and self._entries:
            self.forget(next(iter(self._entries)))

    def forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0]) + entry[1].nbytes


class RedisStorage(Storage):
    """A `Storage` on Redis, shared by every replica of a bridge.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        default_ttl: seconds an entry lives when `set` gets no TTL (30 days).
        timeout: upper bound in seconds of one operation, connecting included.
        backoff: seconds to fail fast after a failure before probing again.
        client: a ready client to use instead of one made from ``url``.
        memo_bytes: budget of the memo of large decoded values.
        tls_ca_file: CA certificates (PEM) that sign the server's certificate, for
            ``rediss://`` (Memorystore's server CA); the system's CAs when None.
        tls_check_hostname: whether the certificate must name the host of the URL.

    The URL may carry a user and password (``rediss://user:pass@host:6378/0``);
    it is never logged, and errors name only the operation and the error type.
    """

    MEMO_MIN_BYTES = 4096
    """Values at least this large (encoded) are memoized decoded."""
    WARNING_INTERVAL = 10.0
    """Seconds between two warnings about failing Redis operations."""

    def __init__(
        self,
        url: str,
        *,
        default_ttl: float = 30 * 24 * 3600,
        timeout: float = 1.0,
        backoff: float = 1.0,
        client: aioredis.Redis | None = None,
        memo_bytes: int = 32 * 1024 * 1024,
        tls_ca_file: str | None = None,
        tls_check_hostname: bool = True,
    ) -> None:
        self.default_ttl = default_ttl
        self.timeout = timeout
        self.backoff = backoff
        # One immediate retry on a connection error: after a Redis restart the
        # pooled connections are dead, and the retry reconnects.
        tls: dict[str, Any] = {}
        if url.startswith("rediss://"):
            tls["ssl_check_hostname"] = tls_check_hostname
            if tls_ca_file:
                tls["ssl_ca_certs"] = tls_ca_file
        self._client = client or aioredis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
            **tls,
        )
        self._swap = self._client.register_script(_SWAP)
        self._breaker = CircuitBreaker(backoff, on_recover=self._recovered)
        self._warnings = WarningThrottle(_log, self.WARNING_INTERVAL)
        self._outage_reported = False
        self._memo = _DecodedMemo(memo_bytes)
        # The raw value each Blob was read from, for `swap` (bookkeeping stays here).
        self._raw: weakref.WeakKeyDictionary[Blob, bytes] = weakref.WeakKeyDictionary()

    @property
    def available(self) -> bool:
        """False while the breaker is open after a failure."""
        return self._breaker.closed

    def _ttl(self, ttl: float | None) -> int:
        return max(1, int(self.default_ttl if ttl is None else ttl))

    async def _call(
        self, what: str, command: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one redis-py command, bounded in time, behind the circuit breaker."""
        with self._breaker.attempt():
            try:
                with redis_errors(what):
                    async with asyncio.timeout(self.timeout):
                        return await command(*args, **kwargs)
            except StorageUnavailable as error:
                if self._warnings.warn(
                    "[RedisStorage] %s failed: %s; failing fast for %.1fs (%d failures since"
                    " the last warning)",
                    what,
                    type(error.__cause__).__name__,
                    self.backoff,
                ):
                    self._outage_reported = True
                raise

    def _recovered(self) -> None:
        if self._outage_reported:
            self._outage_reported = False
            _log.info("[RedisStorage] Redis is available again")

    async def get(self, key: str) -> Blob | None:
        """The value under ``key``; a value that does not decode counts as absent.

        Large values stay decoded in a small local memo for as long as Redis holds
        the very same bytes, so serving a popular list costs one GET, not a decode.
        """
        return self._blob(key, await self._call("GET", self._client.get, key))

    async def get_many(self, *keys: str) -> list[Blob | None]:
        """Several values with one ``MGET`` (one round trip)."""
        raws = await self._call("MGET", self._client.mget, keys)
        return [self._blob(key, raw) for key, raw in zip(keys, raws, strict=True)]

    def _blob(self, key: str, raw: bytes | str | None) -> Blob | None:
        if isinstance(raw, str):  # only with a client made with decode_responses=True
            raw = raw.encode()
        if raw is None:
            self._memo.forget(key)
            return None
        blob = self._memo.get(key, raw)
        if blob is not None:
            return blob
        try:
            blob = decode_value(raw)
        except ValueError:
            _log.warning("[RedisStorage] Ignoring an entry that does not decode")
            return None
        self._raw[blob] = raw
        if len(raw) >= self.MEMO_MIN_BYTES:
            self._memo.put(key, raw, blob)
        return blob

    async def set(self, key: str, value: Blob, ttl: float | None = None) -> None:
        """``SET key value EX ttl``."""
        await self._call("SET", self._client.set, key, encode_value(value.json), ex=self._ttl(ttl))

    async def add(self, key: str, value: Blob, ttl: float | None = None) -> bool:
        """``SET key value NX EX ttl``."""
        encoded = encode_value(value.json)
        stored = await self._call(
            "SET NX", self._client.set, key, encoded, ex=self._ttl(ttl), nx=True
        )
        return bool(stored)

    async def delete(self, key: str) -> None:
        """``DEL key``."""
        await self._call("DEL", self._client.delete, key)

    async def swap(self, key: str, expected: Blob, value: Blob, ttl: float | None = None) -> bool:
        """Replace atomically (a Lua script) if the raw value is still the one read."""
        raw = self._raw.get(expected)
        if raw is None:  # not a Blob this store read: compare the JSON instead
            return await super().swap(key, expected, value, ttl)
        replaced = await self._call(
            "SWAP",
            self._swap,
            keys=[key],
            args=[raw, encode_value(value.json), self._ttl(ttl)],
        )
        return bool(replaced)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
