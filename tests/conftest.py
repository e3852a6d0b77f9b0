"""Shared fixtures. Nothing here may reach beyond loopback.

``tests/`` mirrors the package: ``tests/<path>/test_<name>.py`` tests
``integration_bridge/<path>/<name>.py`` (or the package ``<name>/``); checks of the
whole project (the HTTP API fuzzed, import cycles, this layout, docs, deploy files,
the editable install, the demo and the original's surface) live in ``tests/project/``.

Shared names (constants, helpers, types) live in ``tests/support.py``; tests import
them from there, never from a conftest or another test module.
"""

from __future__ import annotations

import os

# Read at import time by Google's auth library: point it at a closed loopback
# port so that no client ever looks for a metadata server.
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_ROOT", "127.0.0.1:9")

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from integration_bridge import Adapter
from integration_bridge.testing import bridge_client
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from integration_bridge.testing.redis_server import RedisServer
from tests.support import (
    CONTACTS_TOPIC,
    EVENTS_TOPIC,
    KEYS_TOPIC,
    MIRROR_TOPIC,
    ClientFactory,
    OtlpReceiver,
    subscription,
)


@pytest.fixture
def make_client(aiohttp_client: Any) -> ClientFactory:
    """``await make_client(adapter, **settings)``: a test client of a full bridge app."""

    async def make(adapter: Adapter, **settings: Any) -> TestClient[Any, Any]:
        return await bridge_client(aiohttp_client, adapter, **settings)

    return make


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PubSubEmulator]:
    """A running emulator with the bridge's topics, each with an ordered subscription."""
    async with PubSubEmulator() as emu:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emu.host)
        for topic in (CONTACTS_TOPIC, MIRROR_TOPIC, EVENTS_TOPIC, KEYS_TOPIC):
            emu.create_topic(topic)
            emu.create_subscription(subscription(topic), topic)
        yield emu


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    """An OTLP/HTTP trace receiver on loopback."""
    otlp = OtlpReceiver()
    await otlp.start()
    yield otlp
    await otlp.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the session."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session server's URL, emptied before each test."""
    with redis_server.client() as client:
        client.flushall()
    yield redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, to kill and restart."""
    with RedisServer() as server:
        yield server
