"""The Google path's fixtures: a fake metadata server and an emulator that wants its token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration_bridge.testing.metadata_server import FakeMetadataServer
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import CONTACTS_TOPIC, PROJECT, TOKEN, subscription


@pytest.fixture
def no_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key file, no gcloud ADC file, no emulator: only the metadata server is left."""
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
async def metadata(
    monkeypatch: pytest.MonkeyPatch, no_adc: None
) -> AsyncIterator[FakeMetadataServer]:
    async with FakeMetadataServer(token=TOKEN, project=PROJECT) as server:
        monkeypatch.setenv("GCE_METADATA_HOST", server.host)
        yield server


@pytest.fixture
async def google() -> AsyncIterator[PubSubEmulator]:
    """The emulator standing in for Google's endpoint: it wants the bearer token."""
    async with PubSubEmulator(bearer_token=TOKEN) as emu:
        emu.create_topic(CONTACTS_TOPIC)
        emu.create_subscription(subscription(CONTACTS_TOPIC), CONTACTS_TOPIC)
        yield emu
