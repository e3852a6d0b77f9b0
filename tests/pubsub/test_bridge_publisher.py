"""`get_publisher()`: bridges publish messages of their own, with the stream's guarantees."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import (
    Adapter,
    Config,
    OrderingKeyPaused,
    PublishError,
    create_app,
    get_publisher,
)
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import KEYS_TOPIC, PROJECT, USER_HEADERS, pubsub_settings, subscription

TOPIC = f"projects/{PROJECT}/topics/bridge-own"


class PublishingAdapter(Adapter):
    """Publishes three ordered messages per call, from a handle taken at construction."""

    def __init__(self) -> None:
        self.publisher = get_publisher()
        self.outcomes: list[str] = []

    async def get_account_id(self, config: Config) -> str:
        for n in range(3):
            try:
                await self.publisher.publish(
                    "bridge-own", {"n": n, "user": config.user_id}, ordering_key=config.user_id
                )
                self.outcomes.append("ok")
            except OrderingKeyPaused:
                self.outcomes.append("paused")
            except PublishError:
                self.outcomes.append("failed")
        return "account"


@pytest.fixture
def own_topic(emulator: PubSubEmulator) -> str:
    emulator.create_topic(TOPIC)
    emulator.create_subscription(subscription(TOPIC), TOPIC)
    return TOPIC


async def test_messages_arrive_in_order_with_the_key(
    aiohttp_client: Any, emulator: PubSubEmulator, own_topic: str
) -> None:
    adapter = PublishingAdapter()
    client = await aiohttp_client(create_app(adapter, settings=pubsub_settings(emulator)))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == 200
    received = emulator.drain(subscription(own_topic))
    assert [m.json() for m in received] == [{"n": n, "user": "user-1"} for n in range(3)]
    assert {m.ordering_key for m in received} == {"user-1"}
    assert adapter.outcomes == ["ok"] * 3


async def test_a_failed_key_is_paused_until_resumed(
    aiohttp_client: Any, emulator: PubSubEmulator, own_topic: str
) -> None:
    adapter = PublishingAdapter()
    client = await aiohttp_client(create_app(adapter, settings=pubsub_settings(emulator)))
    emulator.fail_next_publishes(1, status=400, topic=own_topic)
    await client.get("/account/id", headers=USER_HEADERS)
    assert adapter.outcomes == ["failed", "paused", "paused"]
    assert emulator.drain(subscription(own_topic)) == []

    adapter.publisher.resume("bridge-own", "user-1")
    adapter.outcomes.clear()
    await client.get("/account/id", headers=USER_HEADERS)
    assert adapter.outcomes == ["ok"] * 3
    assert [m.json()["n"] for m in emulator.drain(subscription(own_topic))] == [0, 1, 2]


async def test_full_topic_names_and_attributes(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    await aiohttp_client(create_app(Adapter(), settings=pubsub_settings(emulator)))
    publisher = get_publisher()  # outside a request: the running app
    message_id = await publisher.publish(KEYS_TOPIC, b"raw bytes", attributes={"kind": "test"})
    assert message_id
    (received,) = emulator.drain(subscription(KEYS_TOPIC))
    assert received.data == b"raw bytes"
    assert received.attributes == {"kind": "test"}


async def test_without_a_running_bridge() -> None:
    with pytest.raises(RuntimeError, match="no integration_bridge app is running"):
        await get_publisher().publish("topic", {})
