"""An emulator per test, and apps wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from integration_bridge import Settings
from integration_bridge.testing.pubsub_emulator import PubSubEmulator

PROJECT = "test-project"
CONTACTS_TOPIC = f"projects/{PROJECT}/topics/contacts"
MIRROR_TOPIC = f"projects/{PROJECT}/topics/contacts-mirror"
EVENTS_TOPIC = f"projects/{PROJECT}/topics/events"
KEYS_TOPIC = f"projects/{PROJECT}/topics/provider-keys"


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PubSubEmulator]:
    """A running emulator with the bridge's topics, each with an ordered subscription."""
    async with PubSubEmulator() as emu:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emu.host)
        for topic in (CONTACTS_TOPIC, MIRROR_TOPIC, EVENTS_TOPIC, KEYS_TOPIC):
            emu.create_topic(topic)
            emu.create_subscription(topic.replace("/topics/", "/subscriptions/"), topic)
        yield emu


def subscription(topic: str) -> str:
    """The test subscription of a topic."""
    return topic.replace("/topics/", "/subscriptions/")


def pubsub_settings(emu: PubSubEmulator, **changes: Any) -> Settings:
    """Settings pointing at the emulator with every topic configured."""
    base: dict[str, Any] = {
        "pubsub_emulator_host": emu.host,
        "integration_name": "test-bridge",
        "google_cloud_project": PROJECT,
        "pubsub_topic_name_contact_streaming": "contacts",
        "pubsub_topic_name_integration_events": EVENTS_TOPIC,
        "pubsub_topic_name_update_provider_key": KEYS_TOPIC,
        "shutdown_timeout": 2.0,
    }
    return Settings(**{**base, **changes})
