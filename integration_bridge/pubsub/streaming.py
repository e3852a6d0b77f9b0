"""POST /contacts/stream: a bridge's async generator as an ordered Pub/Sub stream.

Every non-empty batch is validated, sanitized and published as ``IN_PROGRESS``
(split into several messages when too large for one); the end of the
generator publishes ``COMPLETE``, an exception ``FAILED``. All messages of one
stream share the ordering key ``<user id>:<timestamp>``. Running streams are
tracked so that shutdown can drain them, and cut ones end with ``FAILED``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from integration_bridge.adapter import Adapter
from integration_bridge.contacts import prepare_contacts
from integration_bridge.errors import ServerError
from integration_bridge.logging import context_headers, request_headers_var
from integration_bridge.models import Config
from integration_bridge.pubsub.factory import topic_path
from integration_bridge.pubsub.publisher import Publisher, PublishError
from integration_bridge.settings import Settings

__all__ = [
    "MAX_MESSAGE_DATA_BYTES",
    "ContactStreamer",
    "TooManyStreams",
    "forwarded_trace_context",
    "split_contacts",
]

_log = logging.getLogger("integration_bridge.stream")

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE_MAX = 512  # W3C: 32 list members; a longer header is not passed on


def forwarded_trace_context(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """A request's well-formed W3C ``traceparent`` (and ``tracestate``), for messages."""
    if headers is None:
        return None
    traceparent = headers.get("traceparent", "").strip()
    if not _TRACEPARENT.fullmatch(traceparent) or traceparent.startswith("ff"):
        return None
    context = {"traceparent": traceparent}
    tracestate = headers.get("tracestate", "").strip()
    if tracestate and len(tracestate) <= _TRACESTATE_MAX and tracestate.isprintable():
        context["tracestate"] = tracestate
    return context


MAX_MESSAGE_DATA_BYTES = 4_000_000
"""Largest JSON of one stream message (base64 in a REST request stays well under 10 MB)."""


class TooManyStreams(ServerError):
    """429: ``STREAM_MAX_CONCURRENT`` streams run already; try again after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "Too many contact streams running, try again later")
        self.retry_after = retry_after


STREAM_RETRY_AFTER_SECONDS = 10
"""The ``Retry-After`` of a refused stream: a stream usually runs for seconds to minutes."""


def split_contacts(
    contacts: list[dict[str, Any]], envelope_bytes: int, limit: int = MAX_MESSAGE_DATA_BYTES
) -> list[list[dict[str, Any]]]:
    """Cut a batch into chunks whose message JSON stays under ``limit`` bytes."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = envelope_bytes
    for contact in contacts:
        contact_size = len(orjson.dumps(contact)) + 1
        if current and size + contact_size > limit:
            chunks.append(current)
            current, size = [], envelope_bytes
        current.append(contact)
        size += contact_size
    if current:
        chunks.append(current)
    return chunks


class _Mirror:
    """One stream's copies on the mirror topic: failures are logged, never raised."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.failed = 0
        self.first_error: BaseException | None = None

    def submit(
        self,
        publisher: Publisher,
        data: bytes,
        ordering_key: str,
        trace: dict[str, str] | None,
    ) -> asyncio.Future[str]:
        """Hand a copy over; the returned future resolves to "" instead of failing."""
        loop = asyncio.get_running_loop()
        settled: asyncio.Future[str] = loop.create_future()
        inner = publisher.submit(self.topic, data, ordering_key, trace)

        def done(future: asyncio.Future[str]) -> None:
            error = None if future.cancelled() else future.exception()
            if error is not None:
                self.failed += 1
                if self.first_error is None:
                    self.first_error = error
                    _log.error(
                        "[streamContacts] Mirroring to %s failed, the stream goes on: %s",
                        self.topic,
                        error,
                    )
            if not settled.done():
                settled.set_result("" if error is not None else future.result())

        inner.add_done_callback(done)
        return settled

    def report(self) -> None:
        """One line at the end of a stream whose mirror lost messages."""
        if self.failed:
            _log.warning(
                "[streamContacts] %d message(s) of the stream did not reach the mirror topic %s",
                self.failed,
                self.topic,
            )


class ContactStreamer:
    """Starts, tracks and drains contact streams."""

    def __init__(self, adapter: Adapter, publisher: Publisher, settings: Settings) -> None:
        self.adapter = adapter
        self.publisher = publisher
        self.settings = settings
        project = settings.google_cloud_project
        main = settings.pubsub_topic_name_contact_streaming
        mirror = settings.pubsub_additional_topic_name
        self.topic = topic_path(main, project) if main else None
        self.mirror_topic = topic_path(mirror, project) if mirror else None
        """``PUBSUB_ADDITIONAL_TOPIC_NAME``: every message; its failures never fail a stream."""
        self.topics = [topic for topic in (self.topic, self.mirror_topic) if topic]
        self.max_in_flight = 32
        self.max_message_bytes = MAX_MESSAGE_DATA_BYTES
        self._running: dict[str, asyncio.Task[None]] = {}
        self._by_user: dict[str, int] = {}  # user id -> timestamp of the user's running stream
        self._last_timestamp = 0
        self._closing = False
        self.trace_context: Callable[[], dict[str, str]] | None = None
        """Set when tracing is on: the W3C trace context of the current request."""

    @property
    def running(self) -> int:
        """How many streams are running now."""
        return len(self._running)

    def start(self, config: Config) -> int:
        """Start streaming ``config``'s contacts in the background; returns the timestamp.

        One stream per user: while the user's stream runs, this starts nothing
        and returns that stream's timestamp.

        Raises:
            ServerError: 503 while the server shuts down.
            TooManyStreams: 429 when ``STREAM_MAX_CONCURRENT`` streams run.
        """
        if self._closing:
            raise ServerError(503, "Server is shutting down")
        running = self._by_user.get(config.user_id)
        if running is not None:
            return running
        if len(self._running) >= self.settings.stream_max_concurrent:
            raise TooManyStreams(STREAM_RETRY_AFTER_SECONDS)
        # Strictly increasing: a stream that starts in the millisecond the user's previous
        # one started (and ended) still gets its own timestamp and ordering key.
        timestamp = max(int(time.time() * 1000), self._last_timestamp + 1)
        self._last_timestamp = timestamp
        ordering_key = f"{config.user_id}:{timestamp}"
        # Keep the user id in the log context of the stream, but not the request's other headers.
        log_headers = {"x-user-id": config.user_id, "x-provider-key": config.api_key}
        # Every message of the stream carries the starting request's trace context: our
        # span's with tracing on; without, the caller's own, passed on unchanged.
        trace: dict[str, str] | None
        if self.trace_context is not None:
            trace = self.trace_context()
        else:
            trace = forwarded_trace_context(context_headers())
        task = asyncio.create_task(
            self._run(config, timestamp, ordering_key, log_headers, trace or None),
            name=f"stream:{ordering_key}",
        )
        self._running[ordering_key] = task
        self._by_user[config.user_id] = timestamp
        user_id = config.user_id

        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(ordering_key, None)
            if self._by_user.get(user_id) == timestamp:
                del self._by_user[user_id]

        task.add_done_callback(done)
        return timestamp

    def _message(
        self,
        config: Config,
        timestamp: int,
        contacts: list[Any],
        state: str,
        trace: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        message = {
            "userId": config.user_id,
            "timestamp": timestamp,
            "contacts": contacts,
            "state": state,
            "integrationName": self.settings.integration_name,
        }
        if trace:
            message.update(trace)
        return message

    def _submit(
        self,
        message: dict[str, Any],
        ordering_key: str,
        trace: dict[str, str] | None,
        mirror: _Mirror | None,
    ) -> list[asyncio.Future[str]]:
        """Hand a message to the main topic and the mirror; mirror futures never raise."""
        data = orjson.dumps(message)
        futures = []
        if self.topic is not None:
            futures.append(self.publisher.submit(self.topic, data, ordering_key, trace))
        if mirror is not None:
            futures.append(mirror.submit(self.publisher, data, ordering_key, trace))
        return futures

    async def _run(
        self,
        config: Config,
        timestamp: int,
        ordering_key: str,
        headers: dict[str, str],
        trace: dict[str, str] | None = None,
    ) -> None:
        request_headers_var.set(headers)
        envelope = len(orjson.dumps(self._message(config, timestamp, [], "IN_PROGRESS", trace)))
        contacts = 0
        state = "COMPLETE"
        in_flight: deque[asyncio.Future[str]] = deque()
        mirror = _Mirror(self.mirror_topic) if self.mirror_topic else None
        try:
            async for batch in self.adapter.stream_contacts(config):
                if not batch:
                    continue
                try:
                    prepared = prepare_contacts(batch, config.locale)
                except ServerError as error:
                    _log.warning("[streamContacts] Skipping an invalid batch: %s", error.message)
                    continue
                for chunk in split_contacts(prepared, envelope, self.max_message_bytes):
                    message = self._message(config, timestamp, chunk, "IN_PROGRESS", trace)
                    in_flight.extend(self._submit(message, ordering_key, trace, mirror))
                    # Pipelined, so batches share requests; bounded, so memory stays flat.
                    while len(in_flight) > self.max_in_flight:
                        await in_flight.popleft()
                contacts += len(prepared)
            while in_flight:
                await in_flight.popleft()
        except asyncio.CancelledError:
            state = "FAILED"
            _log.warning("[streamContacts] Stream cut at shutdown after %d contacts", contacts)
        except PublishError as error:
            state = "FAILED"
            _log.error("[streamContacts] Publishing the stream failed: %s", error)
        except Exception:
            state = "FAILED"
            _log.exception("[streamContacts] The bridge's stream failed")
        finally:
            for future in in_flight:
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # retrieved: a failure was already reported
        await self._finish(config, timestamp, ordering_key, state, contacts, trace, mirror)

    async def _finish(
        self,
        config: Config,
        timestamp: int,
        ordering_key: str,
        state: str,
        contacts: int,
        trace: dict[str, str] | None = None,
        mirror: _Mirror | None = None,
    ) -> None:
        for topic in self.topics:
            self.publisher.resume(topic, ordering_key)
        message = self._message(config, timestamp, [], state, trace)
        mirrored: asyncio.Future[str] | None = None
        if mirror is not None:
            # A mirror that lost messages must not announce a complete stream.
            mirror_message = message if not mirror.failed else {**message, "state": "FAILED"}
            data = orjson.dumps(mirror_message)
            mirrored = mirror.submit(self.publisher, data, ordering_key, trace)
        try:
            if self.topic is not None:
                await self.publisher.publish(self.topic, orjson.dumps(message), ordering_key, trace)
        except PublishError as error:
            _log.error("[streamContacts] Could not publish the %s state: %s", state, error)
            return
        finally:
            if mirrored is not None and mirror is not None:
                await mirrored
                mirror.report()
        _log.info("[streamContacts] Stream %s with %d contacts", state.lower(), contacts)

    async def shutdown(self, timeout: float) -> None:  # noqa: ASYNC109 - a drain bound
        """Take no new streams; wait up to ``timeout`` for running ones, then cut the rest."""
        self._closing = True
        tasks = list(self._running.values())
        if not tasks:
            return
        _log.info("[streamContacts] Waiting for %d running stream(s)", len(tasks))
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=max(1.0, self.publisher_timeout))

    @property
    def publisher_timeout(self) -> float:
        """How long publishing a final state may take."""
        return self.settings.pubsub_publish_timeout + 1
