"""Integration events (webhooks) and provider key updates on Pub/Sub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from integration_bridge.dedup import unique_in_order
from integration_bridge.logging import anonymize_key
from integration_bridge.models import Config
from integration_bridge.pubsub.factory import topic_path
from integration_bridge.pubsub.publisher import Publisher, PublishError
from integration_bridge.settings import Settings

__all__ = ["publish_integration_events", "publish_provider_key_update", "unique_events"]

_log = logging.getLogger("integration_bridge.events")


def unique_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with exact duplicates removed, order kept (linear time)."""
    return unique_in_order(events)


async def publish_integration_events(
    publisher: Publisher,
    settings: Settings,
    events: Iterable[dict[str, Any]],
    timeout: float | None = None,  # noqa: ASYNC109 - the webhook's bound, not a call timeout
) -> bool:
    """Publish each event as ``{"integrationName", ...event}``; True when all went out.

    Waits at most ``timeout`` seconds (``WEBHOOK_PUBLISH_TIMEOUT`` when None).
    An event not published by then goes on in the background but counts as
    not published, so the CRM delivers the webhook again (at least once).
    """
    if timeout is None:
        timeout = settings.webhook_publish_timeout
    unique = unique_events(events)
    if not unique:
        return True
    if not settings.pubsub_topic_name_integration_events:
        _log.error("[handleWebhook] PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS is not set")
        return False
    topic = topic_path(settings.pubsub_topic_name_integration_events, settings.google_cloud_project)
    futures = [
        publisher.submit(topic, {"integrationName": settings.integration_name, **event})
        for event in unique
    ]
    done, pending = await asyncio.wait(futures, timeout=timeout)
    failed = [f for f in done if f.cancelled() or f.exception() is not None]
    for future in failed[:1]:
        error = "cancelled" if future.cancelled() else future.exception()
        _log.error("[handleWebhook] Publishing an integration event failed: %s", error)
    for future in pending:
        future.add_done_callback(_retrieve)
    if pending:
        _log.error(
            "[handleWebhook] %d of %d integration event(s) not published within %gs",
            len(pending),
            len(futures),
            timeout,
        )
    return not failed and not pending


def _retrieve(future: asyncio.Future[str]) -> None:
    """Take a late publish's outcome so that asyncio does not report it as unretrieved."""
    if not future.cancelled():
        future.exception()


async def publish_provider_key_update(
    publisher: Publisher, settings: Settings, config: Config, provider_key: str
) -> None:
    """Announce a user's new provider key on ``PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY``."""
    if not settings.pubsub_topic_name_update_provider_key:
        _log.error("[updateProviderKey] PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY is not set")
        return
    topic = topic_path(
        settings.pubsub_topic_name_update_provider_key, settings.google_cloud_project
    )
    message = {
        "userId": config.user_id,
        "integrationName": settings.integration_name,
        "providerKey": provider_key,
    }
    try:
        await publisher.publish(topic, message)
    except PublishError as error:
        _log.error(
            "[updateProviderKey] Publishing the key update (%s) failed: %s",
            anonymize_key(provider_key),
            error,
        )
        raise
