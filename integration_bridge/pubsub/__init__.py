"""Google Pub/Sub: the batching publisher, the local publisher, contact streaming."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from integration_bridge.appkeys import ADAPTER, PUBLISHER, PUBSUB_BACKEND, SETTINGS, STREAMER
from integration_bridge.pubsub.factory import open_publisher
from integration_bridge.pubsub.publisher import (
    BatchingPublisher,
    OrderingKeyPaused,
    Publisher,
    PublishError,
)
from integration_bridge.pubsub.streaming import ContactStreamer

__all__ = [
    "BatchingPublisher",
    "ContactStreamer",
    "OrderingKeyPaused",
    "PublishError",
    "Publisher",
    "pubsub_context",
]

_log = logging.getLogger("integration_bridge.pubsub")


async def pubsub_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the publisher and the streamer; on shutdown drain, flush, close."""
    publisher, settings = await open_publisher(app[SETTINGS], app[PUBSUB_BACKEND])
    app[SETTINGS] = settings  # with the Google project found at start-up
    streamer = ContactStreamer(app[ADAPTER], publisher, settings)
    app[PUBLISHER] = publisher
    app[STREAMER] = streamer
    try:
        yield
    finally:
        await streamer.shutdown(settings.shutdown_timeout)
        await publisher.close()
