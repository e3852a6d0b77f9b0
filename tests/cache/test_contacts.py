"""Contact cache rules that only the timing of the state entry shows (SPEC 5)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from integration_bridge import Adapter, Config
from integration_bridge.appkeys import STORAGE
from integration_bridge.cache.contacts import cache_state_key
from integration_bridge.cache.storage import Blob
from integration_bridge.testing import bridge_client, user_headers

HEADERS = user_headers(api_key="cache-rules-key-0123456789")
KEY = HEADERS["x-provider-key"]
CACHED = [{"id": "1", "name": "Ada", "phoneNumbers": []}]


class Counting(Adapter):
    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        return [{"id": "2", "name": "Grace", "phoneNumbers": []}]


async def _seed(client: Any, contacts: list[dict[str, Any]], state: str, age_ms: int) -> None:
    storage = client.app[STORAGE]
    await storage.set(KEY, Blob.of(contacts))
    stamp = int(time.time() * 1000) - age_ms
    await storage.set(cache_state_key(KEY), Blob.of({"state": state, "timestamp": stamp}))


async def test_a_list_younger_than_the_refresh_interval_is_not_refetched(
    aiohttp_client: Any,
) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge, cache_refresh_interval=3)
    await _seed(client, CACHED, "CACHED", age_ms=2_000)  # 2 s < 3 s: fresh
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]
    await asyncio.sleep(0.1)
    assert bridge.fetches == 0


async def test_a_list_older_than_the_refresh_interval_is_refreshed_in_the_background(
    aiohttp_client: Any,
) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge, cache_refresh_interval=3)
    await _seed(client, CACHED, "CACHED", age_ms=3_500)
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]  # stale, served at once
    for _ in range(50):
        if bridge.fetches:
            break
        await asyncio.sleep(0.02)
    assert bridge.fetches == 1


async def test_an_empty_list_during_a_refresh_is_pending_not_final(aiohttp_client: Any) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge)
    await _seed(client, [], "FETCHING", age_ms=0)  # another replica is fetching
    response = await client.get("/contacts", headers=HEADERS)
    assert response.status == 200
    assert await response.json() == []
    assert response.headers.get("X-Fetching-State") == "pending"
    assert bridge.fetches == 0


async def test_a_non_empty_list_during_a_refresh_is_served(aiohttp_client: Any) -> None:
    client = await bridge_client(aiohttp_client, Counting())
    await _seed(client, CACHED, "FETCHING", age_ms=0)
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]
    assert "X-Fetching-State" not in response.headers
