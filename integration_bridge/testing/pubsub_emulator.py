"""An in-process Google Pub/Sub REST v1 emulator for tests, on 127.0.0.1 only.

It implements what a bridge and its tests need: topics (create, get, delete),
publish, subscriptions (create with ``enableMessageOrdering``, get, delete),
pull and acknowledge. With ordering enabled, a key's next message is
delivered only after the previous one was acknowledged (as the public
reference describes); unacknowledged messages are redelivered after the ack
deadline. Faults can be injected: fail the next publishes with a status, or
drop their connections without an answer. With ``bearer_token`` set, every
request must carry ``Authorization: Bearer <that token>`` (as Google's API
requires) or is answered 401 ``UNAUTHENTICATED``.

Usage::

    async with PubSubEmulator() as emulator:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        ...
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from integration_bridge.pubsub.publisher import MAX_MESSAGES_PER_REQUEST, MAX_REQUEST_BYTES
from integration_bridge.testing.loopback import LoopbackServer

__all__ = ["PubSubEmulator", "PublishRequest", "ReceivedMessage"]


@dataclass(frozen=True)
class PublishRequest:
    """One accepted publish request, as the emulator saw it."""

    topic: str
    body_bytes: int
    message_count: int


@dataclass
class ReceivedMessage:
    """A message as stored for a subscription."""

    message_id: str
    data: bytes
    ordering_key: str
    attributes: dict[str, str]
    publish_time: str
    delivery_attempt: int = 0
    ack_id: str | None = None
    deadline: float = 0.0

    def json(self) -> Any:
        """The data decoded as JSON."""
        return orjson.loads(self.data)


@dataclass
class _Subscription:
    name: str
    topic: str
    ordering: bool
    ack_deadline: float
    backlog: deque[ReceivedMessage] = field(default_factory=deque)
    outstanding: dict[str, ReceivedMessage] = field(default_factory=dict)


def _decode(data: str) -> bytes:
    """Standard or URL-safe base64 (gcloud-aio sends the URL-safe alphabet)."""
    return base64.b64decode(data.replace("-", "+").replace("_", "/") + "=" * (-len(data) % 4))


def _error(status: int, message: str, code: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": code}}
    return web.json_response(body, status=status)


class PubSubEmulator(LoopbackServer):
    """The emulator; start it with ``async with`` or `start`/`stop`."""

    def __init__(
        self,
        *,
        ack_deadline: float = 10.0,
        auto_create_topics: bool = False,
        bearer_token: str | None = None,
    ) -> None:
        self.ack_deadline = ack_deadline
        self.auto_create_topics = auto_create_topics
        self.bearer_token = bearer_token
        """When set, the token every request must carry (may be changed while running)."""
        self.authorized_requests = 0
        self.unauthorized_requests = 0
        self.topics: set[str] = set()
        self.subscriptions: dict[str, _Subscription] = {}
        self.publish_requests: list[PublishRequest] = []
        self.rejected_requests = 0
        self._fail: deque[int] = deque()
        self._fail_topic: dict[str, deque[int]] = {}
        self._drop = 0
        self._fail_every: tuple[int, int] | None = None
        self._publish_count = 0
        self._released = asyncio.Event()
        self._released.set()
        self._ids = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, a value for ``PUBSUB_API_ENDPOINT``."""
        return f"http://{self.host}"

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the value for ``PUBSUB_EMULATOR_HOST``."""
        return f"127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        """The topics and subscriptions API."""
        app = web.Application(
            client_max_size=MAX_REQUEST_BYTES * 2, middlewares=[self._authorization]
        )
        app.router.add_route("*", "/v1/projects/{project}/topics/{rest:.+}", self._topic)
        app.router.add_route(
            "*", "/v1/projects/{project}/subscriptions/{rest:.+}", self._subscription
        )
        return app

    @web.middleware
    async def _authorization(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.bearer_token is None:
            return await handler(request)
        if request.headers.get("Authorization") != f"Bearer {self.bearer_token}":
            self.unauthorized_requests += 1
            return _error(
                401,
                "Request had invalid authentication credentials.",
                "UNAUTHENTICATED",
            )
        self.authorized_requests += 1
        return await handler(request)

    # -- fault injection ----------------------------------------------------------------

    def fail_next_publishes(self, count: int, status: int = 503, topic: str | None = None) -> None:
        """Answer the next ``count`` publish requests (to ``topic`` if given) with ``status``."""
        if topic is None:
            self._fail.extend([status] * count)
        else:
            self._fail_topic.setdefault(topic, deque()).extend([status] * count)

    def drop_next_publishes(self, count: int) -> None:
        """Close the connection of the next ``count`` publish requests without an answer."""
        self._drop += count

    def fail_every(self, nth: int, status: int = 503) -> None:
        """Reject every ``nth`` publish request with ``status`` (0 turns it off)."""
        self._fail_every = (nth, status) if nth > 0 else None

    def hold_publishes(self) -> None:
        """Hold every publish request unanswered until `release_publishes` (a slow Pub/Sub)."""
        self._released.clear()

    def release_publishes(self) -> None:
        """Answer the held publish requests and stop holding new ones."""
        self._released.set()

    # -- direct helpers for tests --------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        """Create ``projects/P/topics/T``."""
        self.topics.add(topic)

    def create_subscription(self, name: str, topic: str, *, ordering: bool = True) -> None:
        """Create ``projects/P/subscriptions/S`` on ``topic``."""
        self.subscriptions[name] = _Subscription(name, topic, ordering, self.ack_deadline)

    def drain(self, subscription: str) -> list[ReceivedMessage]:
        """Every message of a subscription in delivery order, acknowledged at once."""
        received: list[ReceivedMessage] = []
        while True:
            batch = self._pull(self.subscriptions[subscription], MAX_MESSAGES_PER_REQUEST)
            if not batch:
                return received
            for message in batch:
                assert message.ack_id is not None
                self._ack(self.subscriptions[subscription], message.ack_id)
            received.extend(batch)

    # -- topics ---------------------------------------------------------------------------

    async def _topic(self, request: web.Request) -> web.StreamResponse:
        rest = request.match_info["rest"]
        project = request.match_info["project"]
        name, _, verb = rest.partition(":")
        topic = f"projects/{project}/topics/{name}"
        if verb == "publish" and request.method == "POST":
            return await self._publish(request, topic)
        if verb:
            return _error(404, f"unknown method {verb}", "NOT_FOUND")
        if request.method == "PUT":
            if topic in self.topics:
                return _error(409, "Topic already exists", "ALREADY_EXISTS")
            self.topics.add(topic)
            return web.json_response({"name": topic})
        if request.method == "GET":
            if topic not in self.topics:
                return _error(404, "Topic not found", "NOT_FOUND")
            return web.json_response({"name": topic})
        if request.method == "DELETE":
            self.topics.discard(topic)
            return web.json_response({})
        return _error(405, "method not allowed", "INVALID_ARGUMENT")

    async def _publish(self, request: web.Request, topic: str) -> web.StreamResponse:
        await self._released.wait()
        self._publish_count += 1
        if self._drop > 0:
            self._drop -= 1
            self.rejected_requests += 1
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError  # no answer at all
        status = None
        if self._fail_topic.get(topic):
            status = self._fail_topic[topic].popleft()
        elif self._fail:
            status = self._fail.popleft()
        if status is None and self._fail_every and self._publish_count % self._fail_every[0] == 0:
            status = self._fail_every[1]
        if status is not None:
            self.rejected_requests += 1
            return _error(status, "injected failure", "UNAVAILABLE")
        raw = await request.read()
        if len(raw) > MAX_REQUEST_BYTES:
            return _error(400, "Request payload size exceeds the limit", "INVALID_ARGUMENT")
        if topic not in self.topics:
            if not self.auto_create_topics:
                return _error(404, f"Topic not found: {topic}", "NOT_FOUND")
            self.topics.add(topic)
        body = orjson.loads(raw)
        messages = body.get("messages") or []
        if not messages or len(messages) > MAX_MESSAGES_PER_REQUEST:
            return _error(400, "between 1 and 1000 messages", "INVALID_ARGUMENT")
        ids = []
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        for message in messages:
            message_id = str(next(self._ids))
            ids.append(message_id)
            data = _decode(message.get("data", ""))
            for subscription in self.subscriptions.values():
                if subscription.topic == topic:
                    subscription.backlog.append(
                        ReceivedMessage(
                            message_id,
                            data,
                            message.get("orderingKey", ""),
                            dict(message.get("attributes") or {}),
                            now,
                        )
                    )
        self.publish_requests.append(PublishRequest(topic, len(raw), len(messages)))
        return web.json_response({"messageIds": ids})

    # -- subscriptions ------------------------------------------------------------------

    async def _subscription(self, request: web.Request) -> web.Response:
        rest = request.match_info["rest"]
        project = request.match_info["project"]
        name, _, verb = rest.partition(":")
        full = f"projects/{project}/subscriptions/{name}"
        if not verb:
            if request.method == "PUT":
                if full in self.subscriptions:
                    return _error(409, "Subscription already exists", "ALREADY_EXISTS")
                body = orjson.loads(await request.read() or b"{}")
                topic = body.get("topic", "")
                if topic not in self.topics:
                    return _error(404, "Topic not found", "NOT_FOUND")
                deadline = float(body.get("ackDeadlineSeconds") or self.ack_deadline)
                self.subscriptions[full] = _Subscription(
                    full, topic, bool(body.get("enableMessageOrdering")), deadline
                )
                return web.json_response(
                    {
                        "name": full,
                        "topic": topic,
                        "enableMessageOrdering": self.subscriptions[full].ordering,
                        "ackDeadlineSeconds": int(deadline),
                    }
                )
            if request.method == "GET":
                found = self.subscriptions.get(full)
                if found is None:
                    return _error(404, "Subscription not found", "NOT_FOUND")
                return web.json_response({"name": full, "topic": found.topic})
            if request.method == "DELETE":
                self.subscriptions.pop(full, None)
                return web.json_response({})
        subscription = self.subscriptions.get(full)
        if subscription is None:
            return _error(404, "Subscription not found", "NOT_FOUND")
        body = orjson.loads(await request.read() or b"{}")
        if verb == "pull":
            limit = int(body.get("maxMessages") or 100)
            batch = self._pull(subscription, limit)
            return web.json_response(
                {
                    "receivedMessages": [
                        {
                            "ackId": message.ack_id,
                            "message": {
                                "data": base64.b64encode(message.data).decode(),
                                "messageId": message.message_id,
                                "publishTime": message.publish_time,
                                "orderingKey": message.ordering_key,
                                "attributes": message.attributes,
                            },
                            "deliveryAttempt": message.delivery_attempt,
                        }
                        for message in batch
                    ]
                }
            )
        if verb == "acknowledge":
            for ack_id in body.get("ackIds") or []:
                self._ack(subscription, ack_id)
            return web.json_response({})
        if verb == "modifyAckDeadline":
            for ack_id in body.get("ackIds") or []:
                message = subscription.outstanding.get(ack_id)
                if message is not None:
                    message.deadline = time.monotonic() + float(body.get("ackDeadlineSeconds", 0))
            return web.json_response({})
        return _error(404, f"unknown method {verb}", "NOT_FOUND")

    def _expire(self, subscription: _Subscription) -> None:
        now = time.monotonic()
        expired = [m for m in subscription.outstanding.values() if m.deadline <= now]
        for message in sorted(expired, key=lambda m: int(m.message_id), reverse=True):
            assert message.ack_id is not None
            del subscription.outstanding[message.ack_id]
            message.ack_id = None
            subscription.backlog.appendleft(message)
        if expired:
            ordered = sorted(subscription.backlog, key=lambda m: int(m.message_id))
            subscription.backlog = deque(ordered)

    def _pull(self, subscription: _Subscription, limit: int) -> list[ReceivedMessage]:
        self._expire(subscription)
        blocked = (
            {m.ordering_key for m in subscription.outstanding.values() if m.ordering_key}
            if subscription.ordering
            else set()
        )
        batch: list[ReceivedMessage] = []
        kept: deque[ReceivedMessage] = deque()
        while subscription.backlog and len(batch) < limit:
            message = subscription.backlog.popleft()
            key = message.ordering_key
            if subscription.ordering and key and key in blocked:
                kept.append(message)
                continue
            if subscription.ordering and key:
                blocked.add(key)  # one message per key until it is acknowledged
            message.delivery_attempt += 1
            message.ack_id = f"{subscription.name}:{message.message_id}:{message.delivery_attempt}"
            message.deadline = time.monotonic() + subscription.ack_deadline
            subscription.outstanding[message.ack_id] = message
            batch.append(message)
        kept.extend(subscription.backlog)
        subscription.backlog = kept
        return batch

    def _ack(self, subscription: _Subscription, ack_id: str) -> None:
        subscription.outstanding.pop(ack_id, None)
