"""Google Pub/Sub: the batching publisher, the local publisher, contact streaming."""

from __future__ import annotations

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
]
