"""Prometheus metrics at GET /metrics: scraped and parsed after real traffic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from integration_bridge import (
    Adapter,
    Config,
    ServerError,
    Settings,
    create_app,
    get_fresh_access_token,
)
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from integration_bridge.testing.redis_server import free_port
from tests.support import CONTACTS_TOPIC, ROOT, USER_HEADERS, pubsub_settings, subscription

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def contact(id: str) -> dict[str, Any]:
    return {"id": id, "name": "Ada", "phoneNumbers": [{"label": "WORK", "phoneNumber": "+4930123"}]}


class MeteredAdapter(Adapter):
    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        return [contact("1")]

    async def get_contact(self, config: Config, id: str, type: Any) -> dict[str, Any]:
        if id == "gone":
            raise ServerError(404, "not in the CRM")

        async def refresh(config: Config) -> str:
            return "access-token"

        await get_fresh_access_token(config, refresh)
        return contact(id)

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[dict[str, Any]]]:
        yield [contact("1")]
        yield [contact("2")]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by name and sorted labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: Any) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(await response.text())


async def test_metrics_are_off_by_default(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(MeteredAdapter(), settings=Settings()))
    assert (await client.get("/metrics")).status == 404


async def test_requests_cache_crm_and_tokens_are_counted(aiohttp_client: Any) -> None:
    settings = Settings(metrics_enabled=True, oauth2_redirect_url="https://app.example.com/done")
    client = await aiohttp_client(create_app(MeteredAdapter(), settings=settings))
    for _ in range(3):
        assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    for id in ("c-1", "c-2"):
        assert (
            await client.get(f"/contacts/{id}?type=contacts", headers=USER_HEADERS)
        ).status == 200
    assert (await client.get("/contacts/gone?type=contacts", headers=USER_HEADERS)).status == 404
    assert (await client.get("/no/such/path-77")).status == 404
    samples = await scrape(client)

    duration = "bridge_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route="/contacts", status="200") == 3
    assert value(samples, duration, method="GET", route="/contacts/{id}", status="200") == 2
    assert value(samples, duration, method="GET", route="/contacts/{id}", status="404") == 1
    assert value(samples, duration, method="GET", route="unmatched", status="404") == 1
    assert not any("c-1" in str(key) or "path-77" in str(key) for key in samples)

    lookups = "bridge_contact_cache_lookups_total"
    assert value(samples, lookups, outcome="miss") == 1
    assert value(samples, lookups, outcome="fresh") == 2

    crm = "bridge_crm_request_duration_seconds_count"
    assert value(samples, crm, method="get_contacts") == 1
    assert value(samples, crm, method="get_contact") == 3
    assert value(samples, "bridge_crm_request_failures_total", method="get_contact") == 1
    assert value(samples, "bridge_crm_request_failures_total", method="get_contacts") == 0
    assert value(samples, "bridge_token_refreshes_total") == 1  # the second call was cached
    assert value(samples, "bridge_redis_unavailable") == 0  # memory storage: never down


async def test_stream_publisher_and_retries_are_counted(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    settings = pubsub_settings(emulator, metrics_enabled=True)
    client = await aiohttp_client(create_app(MeteredAdapter(), settings=settings))
    emulator.fail_next_publishes(1, 503)
    assert (await client.post("/contacts/stream", headers=USER_HEADERS)).status == 200
    received: list[Any] = []
    for _ in range(500):
        received += emulator.drain(subscription(CONTACTS_TOPIC))
        if any(m.json()["state"] == "COMPLETE" for m in received):
            break
        await asyncio.sleep(0.01)
    for _ in range(100):  # the stream task ends right after its last publish
        samples = await scrape(client)
        if value(samples, "bridge_contact_streams_running") == 0:
            break
        await asyncio.sleep(0.01)
    assert len(received) == 3
    assert value(samples, "bridge_pubsub_messages_total", outcome="published") == 3
    assert value(samples, "bridge_pubsub_messages_total", outcome="failed") == 0
    assert value(samples, "bridge_pubsub_publish_retries_total") >= 1
    assert value(samples, "bridge_pubsub_queued_messages") == 0
    assert value(samples, "bridge_pubsub_paused_ordering_keys") == 0
    assert value(samples, "bridge_contact_streams_running") == 0


async def test_redis_outage_is_a_gauge(aiohttp_client: Any) -> None:
    settings = Settings(metrics_enabled=True, redis_url="redis://127.0.0.1:9/0", redis_timeout=0.5)
    client = await aiohttp_client(create_app(MeteredAdapter(), settings=settings))
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    samples = await scrape(client)
    assert value(samples, "bridge_redis_unavailable") == 1


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: str = response.read().decode()
        return body


def test_every_worker_reaches_the_scrape(tmp_path: Path) -> None:
    """With --workers 2 each scrape, whichever worker answers it, counts every request."""
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "ERROR", "METRICS_ENABLED": "true", "TMPDIR": str(tmp_path)}
    env.pop("PUBSUB_EMULATOR_HOST", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "integration_bridge", "run", "examples.demo_bridge:DemoBridge"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _get(f"{base}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the bridge did not start"
                time.sleep(0.1)
        for _ in range(39):  # a new connection each: SO_REUSEPORT spreads them over both
            assert _get(f"{base}/health") == "OK"
        for _ in range(8):  # new connections again: scrapes answered by either worker
            samples = parse(_get(f"{base}/metrics"))
            count = "bridge_http_request_duration_seconds_count"
            assert value(samples, count, method="GET", route="/health", status="200") == 40
        (directory,) = tmp_path.glob("ib-metrics-*")
        # Both workers served requests, so both wrote figures that every scrape summed.
        assert len(list(directory.glob("histogram_*.db"))) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert list(tmp_path.glob("ib-metrics-*")) == []  # removed on exit


async def test_sub_application_routes_are_counted(aiohttp_client: Any) -> None:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    extra = web.Application()
    extra.router.add_get("/ping/{id}", ping)
    settings = Settings(metrics_enabled=True)
    app = create_app(MeteredAdapter(), settings=settings, routes=[("/extra", extra)])
    client = await aiohttp_client(app)
    assert (await client.get("/extra/ping/p-1")).status == 200
    samples = await scrape(client)
    duration = "bridge_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route="/extra/ping/{id}", status="200") == 1
