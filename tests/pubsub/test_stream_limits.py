"""Stream spam: one running stream per user, a process-wide cap, 429 past it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from integration_bridge import Adapter, Config, create_app
from integration_bridge.appkeys import STREAMER
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import USER_HEADERS, pubsub_settings


class Gated(Adapter):
    """Streams one batch per user, then waits for ``release``; counts started streams."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[Any]]:
        self.started.append(config.user_id)
        yield [{"id": "1", "phoneNumbers": []}]
        await self.release.wait()


async def test_two_hundred_posts_for_one_user_start_one_stream(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = Gated()
    client = await aiohttp_client(create_app(adapter, settings=pubsub_settings(emulator)))
    responses = await asyncio.gather(
        *(client.post("/contacts/stream", headers=USER_HEADERS) for _ in range(200))
    )
    assert {response.status for response in responses} == {200}
    timestamps = {(await response.json())["timestamp"] for response in responses}
    assert len(timestamps) == 1
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-1"]
    # Once it ended, the user can stream again.
    adapter.release.set()
    await _drained(client)
    adapter.release = asyncio.Event()
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    assert (await response.json())["timestamp"] not in timestamps
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-1", "user-1"]
    adapter.release.set()
    await _drained(client)


def _running(client: Any) -> int:
    return int(client.app[STREAMER].running)


async def _drained(client: Any) -> None:
    """Wait until no stream runs (before the emulator goes away at teardown)."""
    for _ in range(500):
        if _running(client) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("streams still running")


async def test_process_wide_cap_answers_429_with_retry_after(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = Gated()
    client = await aiohttp_client(
        create_app(adapter, settings=pubsub_settings(emulator, stream_max_concurrent=3))
    )
    statuses = []
    for user in range(5):
        response = await client.post(
            "/contacts/stream", headers={**USER_HEADERS, "x-user-id": f"user-{user}"}
        )
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) > 0
            assert response.content_type == "text/plain"
    assert statuses == [200, 200, 200, 429, 429]
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-0", "user-1", "user-2"]
    # A user whose stream runs still gets its timestamp, not 429.
    response = await client.post(
        "/contacts/stream", headers={**USER_HEADERS, "x-user-id": "user-1"}
    )
    assert response.status == 200
    adapter.release.set()
    await _drained(client)
    response = await client.post(
        "/contacts/stream", headers={**USER_HEADERS, "x-user-id": "user-4"}
    )
    assert response.status == 200
    await _drained(client)
