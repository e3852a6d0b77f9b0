"""GET /contacts on a shared Redis: compatibility, one fetch across replicas, outages."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient

from integration_bridge import Adapter, Config, Settings, create_app
from integration_bridge.testing.redis_server import RedisServer, free_port
from tests.support import USER_HEADERS

KEY = USER_HEADERS["x-provider-key"]
ROOT = Path(__file__).resolve().parents[2]


def encode(value: Any) -> bytes:
    return base64.b64encode(zlib.compress(orjson.dumps(value)))


def decode(raw: bytes) -> Any:
    return orjson.loads(zlib.decompress(base64.b64decode(raw)))


class SlowAdapter(Adapter):
    def __init__(self, delay: float = 0.2) -> None:
        self.calls = 0
        self.delay = delay

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return [{"id": str(self.calls), "firstName": "Ada", "phoneNumbers": []}]


async def replica(
    aiohttp_client: Any, adapter: Adapter, url: str, **settings: Any
) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(adapter, settings=Settings(redis_url=url, redis_timeout=0.3, **settings))
    )
    return client


async def test_serves_entries_written_by_the_original(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    cached: list[dict[str, Any]] = [
        {
            "id": "ts-1",
            "name": "From TypeScript",
            "firstName": None,
            "lastName": None,
            "email": None,
            "organization": None,
            "contactUrl": None,
            "avatarUrl": None,
            "phoneNumbers": [],
        }
    ]
    with redis_server.client() as client:
        client.set(KEY, encode(cached))
        client.set(
            f"cache-state:{KEY}", encode({"state": "CACHED", "timestamp": int(time.time() * 1000)})
        )
    adapter = SlowAdapter()
    client = await replica(aiohttp_client, adapter, redis_url)
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert await response.json() == cached
    await asyncio.sleep(0.05)
    assert adapter.calls == 0


async def test_what_we_write_decodes_the_original_way(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    client = await replica(aiohttp_client, SlowAdapter(0), redis_url)
    body = await (await client.get("/contacts", headers=USER_HEADERS)).json()
    with redis_server.client() as redis_client:
        assert decode(redis_client.get(KEY)) == body
        state = decode(redis_client.get(f"cache-state:{KEY}"))
        assert state["state"] == "CACHED"
        assert redis_client.ttl(KEY) > 29 * 24 * 3600


async def test_four_replicas_fetch_a_missing_key_once(aiohttp_client: Any, redis_url: str) -> None:
    adapters = [SlowAdapter() for _ in range(4)]
    clients = [await replica(aiohttp_client, a, redis_url) for a in adapters]
    responses = await asyncio.gather(
        *(c.get("/contacts", headers=USER_HEADERS) for c in clients for _ in range(3))
    )
    assert all(r.status == 200 for r in responses)
    assert sum(a.calls for a in adapters) == 1
    await asyncio.sleep(0.3)
    for c in clients:
        body = await (await c.get("/contacts", headers=USER_HEADERS)).json()
        assert [item["id"] for item in body] == ["1"]
    assert sum(a.calls for a in adapters) == 1


async def test_four_replicas_refresh_a_stale_key_once(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set(KEY, encode([{"id": "old", "phoneNumbers": []}]))
        client.set(f"cache-state:{KEY}", encode({"state": "CACHED", "timestamp": 1}))
    adapters = [SlowAdapter(0.05) for _ in range(4)]
    clients = [await replica(aiohttp_client, a, redis_url) for a in adapters]
    responses = await asyncio.gather(
        *(c.get("/contacts", headers=USER_HEADERS) for c in clients for _ in range(3))
    )
    bodies = [await r.json() for r in responses]
    assert all([item["id"] for item in body] == ["old"] for body in bodies)
    await asyncio.sleep(0.3)
    assert sum(a.calls for a in adapters) == 1


async def test_redis_outage_fails_no_request_and_recovers(
    aiohttp_client: Any, own_redis: RedisServer
) -> None:
    adapter = SlowAdapter(0)
    client = await replica(aiohttp_client, adapter, own_redis.url)
    statuses = []
    for round_ in range(30):
        if round_ == 5:
            own_redis.stop()
        if round_ == 20:
            own_redis.start()
            await asyncio.sleep(1.1)  # past the fail-fast window
        response = await client.get("/contacts", headers=USER_HEADERS)
        statuses.append(response.status)
        assert len(await response.json()) == 1
    assert statuses == [200] * 30
    calls_after_restart = adapter.calls
    with own_redis.client() as redis_client:
        assert redis_client.get(KEY) is not None  # written again after the restart
    await client.get("/contacts", headers=USER_HEADERS)
    assert adapter.calls == calls_after_restart  # and served from it


async def test_redis_killed_under_load_fails_no_request(
    aiohttp_client: Any, own_redis: RedisServer
) -> None:
    adapters = [SlowAdapter(0.01) for _ in range(2)]
    clients = [await replica(aiohttp_client, a, own_redis.url) for a in adapters]
    keys = [f"{KEY}-{n}" for n in range(5)]
    statuses: list[int] = []
    stop = asyncio.Event()

    async def user(client: TestClient[Any, Any], key: str) -> None:
        while not stop.is_set():
            headers = {**USER_HEADERS, "x-provider-key": key}
            response = await client.get("/contacts", headers=headers)
            statuses.append(response.status)
            await response.read()

    workers = [asyncio.create_task(user(c, k)) for c in clients for k in keys]
    try:
        await asyncio.sleep(0.3)
        own_redis.stop()
        await asyncio.sleep(0.8)
        own_redis.start()
        await asyncio.sleep(1.5)  # past the fail-fast window: written to Redis again
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert len(statuses) > 100
    assert set(statuses) == {200}
    with own_redis.client() as redis_client:
        assert all(redis_client.get(key) is not None for key in keys)


async def test_hung_redis_adds_bounded_latency(aiohttp_client: Any, own_redis: RedisServer) -> None:
    adapter = SlowAdapter(0)
    client = await replica(aiohttp_client, adapter, own_redis.url)
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    own_redis.pause()
    try:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get("/contacts", headers=USER_HEADERS) for _ in range(20))
        )
        assert [r.status for r in responses] == [200] * 20
        assert [len(await r.json()) for r in responses] == [1] * 20
        assert time.monotonic() - started < 1.5  # one Redis timeout (0.3 s), not one each
    finally:
        own_redis.resume()


def test_four_processes_fetch_a_missing_or_stale_key_once(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        client.flushall()
    ports = [free_port() for _ in range(4)]
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "COUNTER_REDIS_URL": redis_server.url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "integration_bridge",
                "run",
                "tests.cache.counting_bridge:CountingBridge",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    stale_key = f"{KEY}-stale"
    with redis_server.client() as client:
        client.set(stale_key, encode([{"id": "old", "phoneNumbers": []}]))
        client.set(f"cache-state:{stale_key}", encode({"state": "CACHED", "timestamp": 1}))
    try:
        for port in ports:
            wait_healthy(port)

        async def hammer(key: str) -> list[int]:
            loop = asyncio.get_running_loop()
            calls = [
                loop.run_in_executor(None, fetch_status, port, key)
                for port in ports
                for _ in range(4)
            ]
            return list(await asyncio.gather(*calls))

        assert asyncio.run(hammer(KEY)) == [200] * 16
        assert asyncio.run(hammer(stale_key)) == [200] * 16
        time.sleep(0.8)
        with redis_server.client() as client:
            assert int(client.get(f"fetches:{KEY}") or 0) == 1
            assert int(client.get(f"fetches:{stale_key}") or 0) == 1
            assert decode(client.get(stale_key))[0]["id"] == "1"  # refreshed list stored
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=15)


def fetch_status(port: int, key: str = KEY) -> int:
    headers = {**USER_HEADERS, "x-provider-key": key}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/contacts", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
