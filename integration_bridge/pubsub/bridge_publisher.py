"""`get_publisher()`: the running bridge's publisher, for messages of the bridge's own.

The original exports a publisher that bridges use for topics of their own.
Here it is the same publisher the contact stream uses, with the same
guarantees: messages of one ordering key are sent in order with at most one
request in flight, retried on retryable failures, and after a final failure
the key is paused (later messages fail fast with `OrderingKeyPaused`) until
`BridgePublisher.resume` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from integration_bridge import runtime
from integration_bridge.appkeys import PUBLISHER, SETTINGS
from integration_bridge.pubsub.factory import topic_path

__all__ = ["BridgePublisher", "get_publisher"]


class BridgePublisher:
    """Publishes any JSON message (or bytes) to any topic of the bridge's Pub/Sub.

    Topic names may be full (``projects/P/topics/T``) or short, with the
    project of ``GOOGLE_CLOUD_PROJECT`` (or the credentials').
    """

    def __init__(self, app: web.Application | None = None) -> None:
        self._fixed_app = app

    @property
    def _app(self) -> web.Application:
        # Without a fixed app, the running one is looked up at each call, so a
        # handle taken in an adapter's __init__ works once the bridge runs.
        return self._fixed_app or runtime.current_app()

    def topic_path(self, topic: str) -> str:
        """The full name of ``topic``."""
        return topic_path(topic, self._app[SETTINGS].google_cloud_project)

    async def publish(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message and wait until Pub/Sub accepted it.

        Args:
            topic: full or short topic name.
            message: a JSON-ready value (dicts, lists, pydantic-free data) or bytes.
            ordering_key: messages with the same key arrive in the order published.
            attributes: Pub/Sub message attributes.

        Returns:
            The message id (``local-N`` with the local publisher).

        Raises:
            PublishError: not accepted after retries; `OrderingKeyPaused` when an
                earlier message of the key failed and the key was not resumed.
        """
        publisher = self._app[PUBLISHER]
        return await publisher.publish(self.topic_path(topic), message, ordering_key, attributes)

    def resume(self, topic: str, ordering_key: str) -> None:
        """Allow publishing on a key paused by a failure again."""
        self._app[PUBLISHER].resume(self.topic_path(topic), ordering_key)


def get_publisher() -> BridgePublisher:
    """The publisher of the running bridge: the request's app, else the last started one.

    The app is looked up when a message is published, so the handle may be
    taken early (e.g. in an adapter's ``__init__``); publishing while no bridge
    runs raises `RuntimeError`.
    """
    return BridgePublisher()
