"""The embedded default for development: a publisher that logs and keeps nothing."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from integration_bridge.pubsub.publisher import Publisher, to_bytes

__all__ = ["LocalPublisher"]

_log = logging.getLogger("integration_bridge.pubsub.local")


class LocalPublisher(Publisher):
    """Logs every message (topic, ordering key, state, contact count); nothing is sent."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def publish(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Log the message and return a local id."""
        data = to_bytes(message)
        if isinstance(message, bytes):
            try:
                message = orjson.loads(message)
            except orjson.JSONDecodeError:
                message = None
        state = message.get("state") if isinstance(message, dict) else None
        contacts = message.get("contacts") if isinstance(message, dict) else None
        size = len(data)
        _log.info(
            "[LocalPublisher] %s key=%s state=%s contacts=%s bytes=%d",
            topic,
            ordering_key or "-",
            state or "-",
            len(contacts) if isinstance(contacts, list) else "-",
            size,
            extra={"topic": topic, "orderingKey": ordering_key, "state": state},
        )
        return f"local-{next(self._ids)}"
