"""Redis storage on ``redis.asyncio``, byte-compatible with the original framework.

A value is the base64 of the zlib-deflated UTF-8 JSON, written with
``SET key value EX ttl``; entries written by a TypeScript bridge are read here
and the other way round. Every operation is bounded by a short timeout; any
failure raises `StorageUnavailable` (callers fall through to the CRM), and
after a failure the store fails fast for a moment instead of making every
request wait for a dead Redis. It recovers by itself.
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
    """A `Storage` on Redis, shared by every replica of a bridge."""

    MEMO_MIN_BYTES = 4096
    """Values at least this large (encoded) are memoized decoded."""

    def __init__(
        self,
        url: str,
        *,
        default_ttl: float = 30 * 24 * 3600,
        timeout: float = 1.0,
        backoff: float = 1.0,
        client: aioredis.Redis | None = None,
        memo_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.default_ttl = default_ttl
        self.timeout = timeout
        self.backoff = backoff
        self._client = client or aioredis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            retry_on_timeout=False,
        )
        self._swap = self._client.register_script(_SWAP)
        self._down_until = 0.0
        self._last_warning = 0.0
        self.memo_bytes = memo_bytes
        self._decoded: OrderedDict[str, tuple[bytes, Blob]] = OrderedDict()
        self._decoded_bytes = 0

    @property
    def client(self) -> aioredis.Redis:
        """The underlying redis-py client."""
        return self._client

    def _ttl(self, ttl: float | None) -> int:
        return max(1, int(self.default_ttl if ttl is None else ttl))

    async def _call(self, what: str, operation: Any) -> Any:
        now = time.monotonic()
        if now < self._down_until:
            operation.close()
            raise StorageUnavailable(
                f"Redis unavailable (retrying in {self._down_until - now:.1f}s)"
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await operation
        except (RedisError, OSError, TimeoutError) as error:
            self._down_until = time.monotonic() + self.backoff
            if now - self._last_warning > 10:
                self._last_warning = now
                _log.warning("[RedisStorage] %s failed: %s", what, type(error).__name__)
            raise StorageUnavailable(f"Redis {what} failed") from error

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
