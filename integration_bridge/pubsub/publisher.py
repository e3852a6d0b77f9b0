"""Publishers: the interface, and a batching, ordered publisher on gcloud-aio-pubsub.

`BatchingPublisher` keeps one lane per (topic, ordering key). A lane collects
messages for a linger time (or until a batch is full: message count or request
bytes), sends them in one request, and only then sends the next batch — so at
most one request per ordering key is in flight and a key's messages arrive in
the order given. Retryable failures (the shared `RetryPolicy`: connection
errors, timeouts, 408, 429, 500, 502, 503, 504) are retried with exponential
backoff and jitter up to a deadline; a final failure fails the batch and pauses the key: its later
messages fail fast with `OrderingKeyPaused` until `resume` is called, as
Google's own clients do. Failures always reach the caller.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from integration_bridge.retry import RetryPolicy

__all__ = [
    "MAX_MESSAGES_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "BatchingPublisher",
    "OrderingKeyPaused",
    "PublishError",
    "Publisher",
    "encoded_size",
]

_log = logging.getLogger("integration_bridge.pubsub")

MAX_MESSAGES_PER_REQUEST = 1000
"""Pub/Sub's limit of messages in one publish request."""

MAX_REQUEST_BYTES = 10_000_000
"""Pub/Sub's limit of one publish request (we count the REST body, base64 included)."""

# JSON framing of one message in the REST body: {"data":"...","attributes":{},"orderingKey":"..."},
_MESSAGE_OVERHEAD = 64


def encoded_size(data: bytes, ordering_key: str | None = None) -> int:
    """Bytes one message takes in a REST publish body."""
    return 4 * ((len(data) + 2) // 3) + len(ordering_key or "") + _MESSAGE_OVERHEAD


class PublishError(Exception):
    """A message could not be published (after retries)."""


class OrderingKeyPaused(PublishError):
    """An earlier message of this ordering key failed; resume the key to publish again."""


class Publisher(ABC):
    """Publishes JSON messages to Pub/Sub topics."""

    @abstractmethod
    async def publish(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message (a JSON-ready value or bytes); returns when it is accepted.

        ``attributes`` become the Pub/Sub message's attributes (e.g. ``traceparent``).

        Raises:
            PublishError: it was not accepted.
        """

    def submit(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> asyncio.Future[str]:
        """Hand one message over without waiting; the future resolves like `publish`.

        Messages submitted one after another on one ordering key keep their order.
        """
        return asyncio.ensure_future(self.publish(topic, message, ordering_key, attributes))

    def resume(self, topic: str, ordering_key: str) -> None:  # noqa: B027 - optional
        """Allow publishing again on a key paused by a failure."""

    async def flush(self) -> None:  # noqa: B027 - optional
        """Wait until every message handed over so far is published or failed."""

    async def close(self, timeout: float | None = None) -> None:  # noqa: B027, ASYNC109
        """Flush (for at most ``timeout`` seconds when given) and release connections."""


def to_bytes(message: Any) -> bytes:
    """The message's data: bytes as is, anything else as JSON."""
    if isinstance(message, bytes):
        return message
    return orjson.dumps(message)


@dataclass
class _Pending:
    data: bytes
    size: int
    future: asyncio.Future[str]
    attributes: Mapping[str, str] | None = None


@dataclass
class _Lane:
    topic: str
    ordering_key: str | None
    queue: deque[_Pending] = field(default_factory=deque)
    queued_bytes: int = 0
    worker: asyncio.Task[None] | None = None
    paused: bool = False
    sending: list[_Pending] = field(default_factory=list)


class BatchingPublisher(Publisher):
    """Batches per topic and ordering key on a gcloud-aio-pubsub `PublisherClient`."""

    def __init__(
        self,
        client: Any,
        *,
        max_messages: int = 100,
        max_bytes: int = 5_000_000,
        linger: float = 0.01,
        timeout: float = 10.0,
        retry_deadline: float = 60.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        on_close: Callable[[], Awaitable[None]] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        # Imported here, once, rather than at module top: gcloud-aio-pubsub imports
        # prometheus-client, which fixes its multiprocess mode when first imported;
        # the CLI sets that up after importing this package (and with the local
        # publisher or metrics off nothing of either is loaded at all).
        from gcloud.aio.pubsub import PubsubMessage

        self._message = PubsubMessage
        self.client = client
        self._on_close = on_close
        self.max_messages = min(max_messages, MAX_MESSAGES_PER_REQUEST)
        self.max_bytes = min(max_bytes, MAX_REQUEST_BYTES - 1024)
        self.linger = linger
        self.timeout = timeout
        self.retry_deadline = retry_deadline
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.retry = retry or RetryPolicy(
            max_retries=None, base_delay=initial_backoff, max_delay=max_backoff, jitter=True
        )
        self._lanes: dict[tuple[str, str | None], _Lane] = {}
        self._closed = False
        # Totals for metrics: messages accepted by Pub/Sub, messages failed, retried requests.
        self.published = 0
        self.failed = 0
        self.retries = 0

    @property
    def queued(self) -> int:
        """Messages waiting in a lane (not yet in a request)."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    @property
    def paused_keys(self) -> int:
        """Ordering keys paused after a failure."""
        return sum(lane.paused for lane in self._lanes.values())

    async def publish(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Queue one message on its lane and wait until it is published."""
        return await self.submit(topic, message, ordering_key, attributes)

    def submit(
        self,
        topic: str,
        message: Any,
        ordering_key: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> asyncio.Future[str]:
        """Queue one message; the future resolves to its message id (or a `PublishError`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        if self._closed:
            future.set_exception(PublishError("publisher is closed"))
            return future
        data = to_bytes(message)
        size = encoded_size(data, ordering_key)
        if attributes:
            size += sum(len(k) + len(v) + 8 for k, v in attributes.items())
        if size > self.max_bytes:
            future.set_exception(
                PublishError(f"message of {len(data)} bytes exceeds the request limit")
            )
            return future
        lane_key = (topic, ordering_key or None)
        lane = self._lanes.get(lane_key)
        if lane is None:
            lane = _Lane(topic, ordering_key or None)
            self._lanes[lane_key] = lane
        if lane.paused:
            self.failed += 1
            future.set_exception(
                OrderingKeyPaused(f"ordering key {ordering_key!r} is paused after a failure")
            )
            return future
        lane.queue.append(_Pending(data, size, future, attributes))
        lane.queued_bytes += size
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._drain(lane_key, lane))
        return future

    def resume(self, topic: str, ordering_key: str) -> None:
        """Un-pause a key after a failure."""
        lane = self._lanes.get((topic, ordering_key or None))
        if lane is not None:
            lane.paused = False

    def _take_batch(self, lane: _Lane) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while lane.queue and len(batch) < self.max_messages:
            item = lane.queue[0]
            if batch and size + item.size > self.max_bytes:
                break
            lane.queue.popleft()
            lane.queued_bytes -= item.size
            size += item.size
            batch.append(item)
        return batch

    async def _drain(self, lane_key: tuple[str, str | None], lane: _Lane) -> None:
        try:
            while lane.queue:
                full = len(lane.queue) >= self.max_messages or lane.queued_bytes >= self.max_bytes
                if not full and self.linger > 0 and not self._closed:
                    await asyncio.sleep(self.linger)
                batch = self._take_batch(lane)
                if not batch:
                    break
                lane.sending = batch
                await self._send(lane, batch)
                lane.sending = []
        finally:
            if not lane.queue and not lane.paused and self._lanes.get(lane_key) is lane:
                del self._lanes[lane_key]

    async def _send(self, lane: _Lane, batch: list[_Pending]) -> None:
        key = lane.ordering_key or ""
        messages = [
            self._message(item.data, ordering_key=key, **(item.attributes or {})) for item in batch
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self.timeout):
                    result = await self.client.publish(
                        lane.topic, messages, timeout=int(max(1, self.timeout))
                    )
                ids = result.get("messageIds") or []
                self.published += len(batch)
                for index, item in enumerate(batch):
                    if not item.future.done():
                        item.future.set_result(str(ids[index]) if index < len(ids) else "")
                return
            except Exception as error:
                decision = self.retry(error, attempt - 1)
                if not decision.retry or loop.time() + decision.delay > deadline:
                    self._fail(lane, batch, error, attempt)
                    return
                self.retries += 1
                _log.warning(
                    "[Publisher] Publish to %s failed (%s), retry %d in %.2fs",
                    lane.topic,
                    _describe(error),
                    attempt,
                    decision.delay,
                )
                await asyncio.sleep(decision.delay)

    def _fail(
        self, lane: _Lane, batch: list[_Pending], error: BaseException, attempts: int
    ) -> None:
        _log.error(
            "[Publisher] Publishing %d message(s) to %s failed after %d attempt(s): %s",
            len(batch),
            lane.topic,
            attempts,
            _describe(error),
        )
        failure = PublishError(f"publish to {lane.topic} failed: {_describe(error)}")
        self.failed += len(batch)
        for item in batch:
            if not item.future.done():
                item.future.set_exception(failure)
        if lane.ordering_key:
            lane.paused = True
            paused = OrderingKeyPaused(f"ordering key {lane.ordering_key!r} is paused")
            while lane.queue:
                item = lane.queue.popleft()
                self.failed += 1
                if not item.future.done():
                    item.future.set_exception(paused)
            lane.queued_bytes = 0

    async def flush(self) -> None:
        """Wait for every lane's worker."""
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - a drain bound
        """Flush what is queued (without further lingering), then close the client.

        Args:
            timeout: how long the flush may take (None: until every lane is done or failed
                after its retries). Messages not published by then fail with `PublishError`
                and are counted in one error log line.
        """
        self._closed = True
        try:
            if timeout is None:
                await self.flush()
            else:
                await self._flush_within(timeout)
        finally:
            try:
                await self.client.close()
            finally:
                if self._on_close is not None:
                    await self._on_close()

    async def _flush_within(self, timeout: float) -> None:  # noqa: ASYNC109 - a drain bound
        workers = {lane.worker for lane in self._lanes.values() if lane.worker is not None}
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=max(0.0, timeout))
        if not pending:
            return
        lanes = [lane for lane in self._lanes.values() if lane.worker in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        failure = PublishError("publisher closed before the message was published")
        unpublished = 0
        topics: set[str] = set()
        for lane in lanes:
            items = [*lane.sending, *lane.queue]
            lane.sending = []
            lane.queue.clear()
            lane.queued_bytes = 0
            for item in items:
                if not item.future.done():
                    item.future.set_exception(failure)
                    unpublished += 1
            if items:
                topics.add(lane.topic)
        self.failed += unpublished
        _log.error(
            "[Publisher] Closed after %.1fs with %d message(s) on %d ordering key(s) not "
            "published to %s",
            timeout,
            unpublished,
            len(lanes),
            ", ".join(sorted(topics)) or "-",
        )


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    return type(error).__name__
