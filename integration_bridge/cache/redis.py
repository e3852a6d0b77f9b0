"""Redis storage on ``redis.asyncio``, byte-compatible with the original framework.

A value is the base64 of the zlib-deflated UTF-8 JSON, written with
``SET key value EX ttl``; entries written by a TypeScript bridge are read here
and the other way round. Every operation is bounded by a short timeout; any
failure raises `StorageUnavailable` (callers fall through to the CRM), and
after a failure the store fails fast for a moment instead of making every
request wait for a dead Redis: after ``backoff`` seconds a single call probes
Redis again while the others still fail fast, and the first success closes
the breaker. It recovers by itself; outages are logged at most every
``WARNING_INTERVAL`` seconds and never with keys or values.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import struct
import time
import zlib
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from integration_bridge.cache.storage import Blob, Storage, StorageUnavailable

__all__ = ["RedisStorage", "decode_value", "encode_value"]

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
    return Blob(json, gzip_bytes=_gzip_from_zlib(compressed, json), source=raw)


def _gzip_from_zlib(compressed: bytes, json: bytes) -> bytes | None:
    """Re-wrap a zlib stream's raw deflate data as gzip, without compressing again."""
    if len(compressed) < 6 or compressed[1] & 0x20:  # a preset dictionary: not portable
        return None
    deflate = compressed[2:-4]
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(json) & 0xFFFFFFFF, len(json) & 0xFFFFFFFF)
    return header + deflate + trailer


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
        self._down_until = 0.0  # fail fast until then (monotonic); 0: healthy
        self._probing = False
        self._last_warning = -float("inf")
        self._failures = 0  # failures not yet reported in a warning
        self._outage_reported = False
        self.memo_bytes = memo_bytes
        self._decoded: OrderedDict[str, tuple[bytes, Blob]] = OrderedDict()
        self._decoded_bytes = 0

    @property
    def client(self) -> aioredis.Redis:
        """The underlying redis-py client."""
        return self._client

    @property
    def available(self) -> bool:
        """False while the breaker is open after a failure."""
        return self._down_until == 0.0

    def _ttl(self, ttl: float | None) -> int:
        return max(1, int(self.default_ttl if ttl is None else ttl))

    async def _call(self, what: str, operation: Any) -> Any:
        """Await a redis-py coroutine, bounded in time, behind the circuit breaker."""
        probe = False
        if self._down_until:
            now = time.monotonic()
            if now < self._down_until or self._probing:
                operation.close()
                raise StorageUnavailable("Redis unavailable (failing fast after an error)")
            probe = self._probing = True
        try:
            async with asyncio.timeout(self.timeout):
                result = await operation
        except (RedisError, OSError, TimeoutError) as error:
            self._failed(what, error)
            raise StorageUnavailable(f"Redis {what} failed") from error
        finally:
            if probe:
                self._probing = False
        if self._down_until:
            self._down_until = 0.0
            if self._outage_reported:
                self._outage_reported = False
                _log.info("[RedisStorage] Redis is available again")
        return result

    def _failed(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + self.backoff
        self._failures += 1
        if now - self._last_warning >= self.WARNING_INTERVAL:
            _log.warning(
                "[RedisStorage] %s failed: %s; failing fast for %.1fs (%d failures since"
                " the last warning)",
                what,
                type(error).__name__,
                self.backoff,
                self._failures,
            )
            self._last_warning = now
            self._failures = 0
            self._outage_reported = True

    async def get(self, key: str) -> Blob | None:
        """The value under ``key``; a value that does not decode counts as absent.

        Large values stay decoded in a small local memo for as long as Redis holds
        the very same bytes, so serving a popular list costs one GET, not a decode.
        """
        return self._blob(key, await self._call("GET", self._client.get(key)))

    async def get_many(self, *keys: str) -> list[Blob | None]:
        """Several values with one ``MGET`` (one round trip)."""
        raws = await self._call("MGET", self._client.mget(keys))
        return [self._blob(key, raw) for key, raw in zip(keys, raws, strict=True)]

    def _blob(self, key: str, raw: bytes | None) -> Blob | None:
        if raw is None:
            self._forget(key)
            return None
        memo = self._decoded.get(key)
        if memo is not None and memo[0] == raw:
            self._decoded.move_to_end(key)
            return memo[1]
        try:
            blob = decode_value(raw)
        except ValueError:
            _log.warning("[RedisStorage] Ignoring an entry that does not decode")
            return None
        if len(raw) >= self.MEMO_MIN_BYTES:
            self._remember(key, raw, blob)
        return blob

    def _remember(self, key: str, raw: bytes, blob: Blob) -> None:
        self._forget(key)
        self._decoded[key] = (raw, blob)
        self._decoded_bytes += len(raw) + blob.nbytes
        while self._decoded_bytes > self.memo_bytes and self._decoded:
            self._forget(next(iter(self._decoded)))

    def _forget(self, key: str) -> None:
        memo = self._decoded.pop(key, None)
        if memo is not None:
            self._decoded_bytes -= len(memo[0]) + memo[1].nbytes

    async def set(self, key: str, value: Blob, ttl: float | None = None) -> None:
        """``SET key value EX ttl``."""
        await self._call("SET", self._client.set(key, encode_value(value.json), ex=self._ttl(ttl)))

    async def add(self, key: str, value: Blob, ttl: float | None = None) -> bool:
        """``SET key value NX EX ttl``."""
        encoded = encode_value(value.json)
        stored = await self._call(
            "SET NX", self._client.set(key, encoded, ex=self._ttl(ttl), nx=True)
        )
        return bool(stored)

    async def delete(self, key: str) -> None:
        """``DEL key``."""
        await self._call("DEL", self._client.delete(key))

    async def swap(self, key: str, expected: Blob, value: Blob, ttl: float | None = None) -> bool:
        """Replace atomically (a Lua script) if the raw value is still the one read."""
        if expected.source is None:
            return await super().swap(key, expected, value, ttl)
        replaced = await self._call(
            "SWAP",
            self._swap(
                keys=[key], args=[expected.source, encode_value(value.json), self._ttl(ttl)]
            ),
        )
        return bool(replaced)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
