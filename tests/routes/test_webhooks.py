"""POST /webhook and provider key updates, published to the emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from integration_bridge import (
    Adapter,
    Config,
    IntegrationsEvent,
    create_app,
    get_fresh_access_token,
    update_provider_key,
)
from integration_bridge.appkeys import PUBLISHER
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import (
    EVENTS_TOPIC,
    KEYS_TOPIC,
    USER_HEADERS,
    headers_with,
    pubsub_settings,
    subscription,
)

EVENT = {
    "type": "CONTACT_UPDATED",
    "accountId": "acc",
    "contactId": "c1",
    "contactType": "contacts",
}


class WebhookAdapter(Adapter):
    def __init__(self, valid: bool = True) -> None:
        self.valid = valid

    async def verify_webhook_request(self, request: web.Request) -> bool:
        return self.valid

    async def handle_webhook(self, request: web.Request) -> list[Any]:
        body = await request.json()
        return [IntegrationsEvent.model_validate(e) for e in body["events"]]


class HalfAdapter(Adapter):
    async def handle_webhook(self, request: web.Request) -> list[Any]:
        return []


async def test_events_are_deduplicated_and_published(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    client = await aiohttp_client(create_app(WebhookAdapter(), settings=pubsub_settings(emulator)))
    other = {**EVENT, "contactId": "c2", "type": "CONTACT_DELETED"}
    response = await client.post("/webhook", json={"events": [EVENT, other, EVENT]})
    assert response.status == 200
    assert await response.text() == "OK"
    received = [m.json() for m in emulator.drain(subscription(EVENTS_TOPIC))]
    assert received == [
        {"integrationName": "test-bridge", **EVENT},
        {"integrationName": "test-bridge", **other},
    ]


async def test_failed_verification_is_403(aiohttp_client: Any, emulator: PubSubEmulator) -> None:
    client = await aiohttp_client(
        create_app(WebhookAdapter(valid=False), settings=pubsub_settings(emulator))
    )
    response = await client.post("/webhook", json={"events": [EVENT]})
    assert response.status == 403
    assert await response.text() == "Webhook verification failed"
    assert emulator.drain(subscription(EVENTS_TOPIC)) == []


async def test_webhook_needs_verification_too(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    client = await aiohttp_client(create_app(HalfAdapter(), settings=pubsub_settings(emulator)))
    response = await client.post("/webhook", json={})
    assert response.status == 501
    assert await response.text() == "Webhook verification not implemented"


async def test_failed_publish_answers_503(aiohttp_client: Any, emulator: PubSubEmulator) -> None:
    client = await aiohttp_client(create_app(WebhookAdapter(), settings=pubsub_settings(emulator)))
    emulator.fail_next_publishes(1, status=400)
    response = await client.post("/webhook", json={"events": [EVENT]})
    assert response.status == 503
    assert await response.text() == "Publishing integration events failed"
    assert emulator.rejected_requests == 1


async def test_one_failed_event_of_several_answers_503(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    app = create_app(WebhookAdapter(), settings=pubsub_settings(emulator))
    client = await aiohttp_client(app)
    client.app[PUBLISHER].max_messages = 1  # one request per event
    emulator.fail_every(2, status=400)
    other = {**EVENT, "contactId": "c2"}
    response = await client.post("/webhook", json={"events": [EVENT, other]})
    assert response.status == 503
    assert len(emulator.drain(subscription(EVENTS_TOPIC))) == 1


async def test_unreachable_pubsub_answers_503_within_the_bound(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    settings = pubsub_settings(emulator, webhook_publish_timeout=0.3)
    client = await aiohttp_client(create_app(WebhookAdapter(), settings=settings))
    emulator.fail_every(1, status=503)  # retryable: the publisher keeps trying for a minute
    started = time.monotonic()
    response = await client.post("/webhook", json={"events": [EVENT]})
    elapsed = time.monotonic() - started
    assert response.status == 503
    assert await response.text() == "Publishing integration events failed"
    assert elapsed < 5  # the bound (0.3 s), not the publisher's retry deadline (60 s)
    # The publish goes on in the background and gets through once Pub/Sub is back.
    emulator.fail_every(0)
    for _ in range(300):
        if emulator.drain(subscription(EVENTS_TOPIC)):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the event was never published")


async def test_no_events_is_ok_without_publishing(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    client = await aiohttp_client(create_app(WebhookAdapter(), settings=pubsub_settings(emulator)))
    emulator.fail_every(1, status=400)
    response = await client.post("/webhook", json={"events": []})
    assert response.status == 200
    assert emulator.rejected_requests == 0


class TokenAdapter(Adapter):
    def __init__(self) -> None:
        self.refreshes = 0

    async def get_account_id(self, config: Config) -> str:
        async def refresh(config: Config) -> str:
            self.refreshes += 1
            return f"access-{self.refreshes}"

        token = await get_fresh_access_token(config, refresh)
        await update_provider_key(config, token, "new-provider-key")
        return token


async def test_update_provider_key_publishes_and_caches(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = TokenAdapter()
    settings = pubsub_settings(emulator, oauth2_redirect_url="https://app.example.com/done")
    client = await aiohttp_client(create_app(adapter, settings=settings))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert await response.json() == "access-1"
    received = [m.json() for m in emulator.drain(subscription(KEYS_TOPIC))]
    assert received == [
        {"userId": "user-1", "integrationName": "test-bridge", "providerKey": "new-provider-key"}
    ]
    # The token is now cached under the new key: no second refresh.
    response = await client.get("/account/id", headers=headers_with(api_key="new-provider-key"))
    assert await response.json() == "access-1"
    assert adapter.refreshes == 1


class UnvalidatedEventsAdapter(Adapter):
    async def verify_webhook_request(self, request: web.Request) -> bool:
        return True

    async def handle_webhook(self, request: web.Request) -> list[Any]:
        return [
            {"type": "CONTACT_UPDATED", "account_id": "a", "contactId": "c", "crmId": 7},
            {"type": "SOMETHING_NEW", "accountId": "a"},
        ]


async def test_webhook_events_are_published_as_returned(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    client = await aiohttp_client(
        create_app(UnvalidatedEventsAdapter(), settings=pubsub_settings(emulator))
    )
    response = await client.post("/webhook", json={})
    assert response.status == 200
    received = [m.json() for m in emulator.drain(subscription(EVENTS_TOPIC))]
    assert received == [
        {
            "integrationName": "test-bridge",
            "type": "CONTACT_UPDATED",
            "accountId": "a",
            "contactId": "c",
            "crmId": 7,
        },
        {"integrationName": "test-bridge", "type": "SOMETHING_NEW", "accountId": "a"},
    ]
