"""The Redis store: the original encoding, TTLs, atomic guards, outages."""

from __future__ import annotations

import asyncio
import base64
import gzip
import time
import zlib
from collections.abc import AsyncIterator

import orjson
import pytest

from integration_bridge.cache.redis import RedisStorage, decode_value, encode_value
from integration_bridge.cache.storage import Blob, StorageUnavailable
from integration_bridge.testing.redis_server import RedisServer

# Written the original way: base64(zlib.deflate(JSON.stringify(value))).
ORIGINAL_LIST = "eJyLrlbKTFGyUjJU0lHKS8xNBTIdUxIVfPLLUnMSk1OBogUZ+XmpfqW5SalFxUpW0bG1sQCbnxCp"
ORIGINAL_LIST_JSON = b'[{"id":"1","name":"Ada Lovelace","phoneNumbers":[]}]'
ORIGINAL_STATE = "eJyrViouSSxJVbJScnZ09nB1UdJRKsnMTQUK5hYoWRmaGyBALQAqZwxq"


@pytest.fixture
async def storage(redis_url: str) -> AsyncIterator[RedisStorage]:
    store = RedisStorage(redis_url, timeout=0.5, backoff=0.2)
    yield store
    await store.close()


def test_encoding_matches_the_original_byte_for_byte() -> None:
    assert encode_value(ORIGINAL_LIST_JSON).decode() == ORIGINAL_LIST
    blob = decode_value(ORIGINAL_STATE)
    assert blob.value() == {"state": "CACHED", "timestamp": 1700000000000}


@pytest.mark.parametrize("level", [1, 6, 9])
def test_any_compression_level_decodes_and_gzip_is_derived(level: int) -> None:
    raw = base64.b64encode(zlib.compress(ORIGINAL_LIST_JSON, level))
    blob = decode_value(raw)
    assert blob.json == ORIGINAL_LIST_JSON
    assert gzip.decompress(blob.gzip) == ORIGINAL_LIST_JSON


def test_garbage_does_not_decode() -> None:
    with pytest.raises(ValueError):
        decode_value("not base64 zlib!")


async def test_reads_what_the_original_wrote(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set("key-1", ORIGINAL_LIST)
    blob = await storage.get("key-1")
    assert blob is not None and blob.json == ORIGINAL_LIST_JSON


async def test_writes_what_the_original_reads_with_ttl(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    await storage.set("key-2", Blob.of([{"id": "2"}]))
    await storage.set("short", Blob.of({"a": 1}), ttl=60)
    with redis_server.client() as client:
        raw = client.get("key-2")
        assert raw is not None
        assert orjson.loads(zlib.decompress(base64.b64decode(raw))) == [{"id": "2"}]
        assert 30 * 24 * 3600 - 5 <= client.ttl("key-2") <= 30 * 24 * 3600
        assert 55 <= client.ttl("short") <= 60


async def test_undecodable_entry_counts_as_absent(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set("bad", "%%%")
    assert await storage.get("bad") is None


async def test_add_is_set_if_absent(storage: RedisStorage, redis_server: RedisServer) -> None:
    results = await asyncio.gather(
        *(storage.add("guard", Blob.of({"n": n}), ttl=1800) for n in range(10))
    )
    assert results.count(True) == 1
    with redis_server.client() as client:
        assert 1790 <= client.ttl("guard") <= 1800


async def test_swap_replaces_only_the_value_read(storage: RedisStorage) -> None:
    await storage.set("state", Blob.of({"state": "CACHED", "timestamp": 1}))
    seen = await storage.get("state")
    assert seen is not None
    results = await asyncio.gather(
        *(
            storage.swap("state", seen, Blob.of({"state": "FETCHING", "n": n}), 1800)
            for n in range(5)
        )
    )
    assert results.count(True) == 1
    again = await storage.get("state")
    assert again is not None and again.value()["state"] == "FETCHING"


async def test_delete(storage: RedisStorage) -> None:
    await storage.set("gone", Blob.of(1))
    await storage.delete("gone")
    assert await storage.get("gone") is None


async def test_outage_fails_fast_and_recovers(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.3, backoff=0.2)
    try:
        await storage.set("k", Blob.of({"v": 1}))
        own_redis.stop()
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(StorageUnavailable):
                await storage.get("k")
        assert time.monotonic() - started < 2.0  # bounded, and mostly fail-fast
        own_redis.start()  # same port, empty (nothing is persisted)
        await asyncio.sleep(0.25)
        await storage.set("k", Blob.of({"v": 2}))
        blob = await storage.get("k")
        assert blob is not None and blob.value() == {"v": 2}
    finally:
        await storage.close()


async def test_large_values_are_decoded_once_until_they_change(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    big = [{"id": str(n), "name": f"Contact {n}", "n": n * 7919 % 1000} for n in range(2000)]
    await storage.set("list", Blob.of(big))
    first = await storage.get("list")
    again = await storage.get("list")
    assert first is not None and first is again  # same bytes in Redis: not decoded again
    changed = big[:-1]
    with redis_server.client() as client:
        client.set("list", encode_value(orjson.dumps(changed)))  # another replica wrote
    fresh = await storage.get("list")
    assert fresh is not None and fresh is not first and fresh.value() == changed
    with redis_server.client() as client:
        client.delete("list")
    assert await storage.get("list") is None


async def test_get_many_is_one_round_trip_in_order(storage: RedisStorage) -> None:
    await storage.set("a", Blob.of(1))
    await storage.set("c", Blob.of(3))
    values = await storage.get_many("a", "b", "c")
    assert [v.value() if v else None for v in values] == [1, None, 3]


async def test_hung_redis_costs_one_timeout_then_fails_fast(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.3, backoff=0.5)
    try:
        await storage.set("k", Blob.of(1))
        own_redis.pause()
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await storage.get("k")
        assert 0.25 <= time.monotonic() - started < 0.6
        assert not storage.available
        started = time.monotonic()
        for _ in range(50):
            with pytest.raises(StorageUnavailable):
                await storage.get("k")
        assert time.monotonic() - started < 0.1
        await asyncio.sleep(0.55)
        # Past the window one call probes (and waits); the others still fail fast.
        started = time.monotonic()
        results = await asyncio.gather(
            *(storage.get("k") for _ in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, StorageUnavailable) for r in results)
        assert time.monotonic() - started < 0.6
        own_redis.resume()
        await asyncio.sleep(0.55)
        blob = await storage.get("k")
        assert blob is not None and blob.value() == 1 and storage.available
    finally:
        own_redis.resume()
        await storage.close()


async def test_first_call_after_a_restart_reconnects(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.5)
    try:
        await storage.set("k", Blob.of(1))  # a pooled connection now exists
        own_redis.stop()
        own_redis.start()
        assert await storage.get("k") is None  # the restarted server is empty, no error
        assert storage.available
    finally:
        await storage.close()


async def test_outage_logs_are_rate_limited_and_keyless(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret_key = "provider-key-secret-123456789"
    storage = RedisStorage(own_redis.url, timeout=0.2, backoff=0)
    try:
        own_redis.stop()
        with caplog.at_level("INFO", logger="integration_bridge.redis"):
            for _ in range(30):
                with pytest.raises(StorageUnavailable):
                    await storage.set(secret_key, Blob.of({"accessToken": "token-secret"}))
            own_redis.start()
            await storage.set(secret_key, Blob.of(1))
        messages = [record.getMessage() for record in caplog.records]
        assert len(messages) == 2, messages  # one warning, one recovery line
        assert "failed" in messages[0] and "available again" in messages[1]
        assert not any("secret" in message for message in messages)
    finally:
        await storage.close()
