"""What the tests share: constants, types and small helpers (import from here, never
from another test module or from ``conftest.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from integration_bridge import Adapter, CallEvent, Config, ContactTemplate, ContactUpdate, Settings
from integration_bridge.testing import user_headers
from integration_bridge.testing.pubsub_emulator import PubSubEmulator

__all__ = [
    "API_KEY",
    "API_URL",
    "BOUNDED",
    "CALL",
    "CONTACTS_TOPIC",
    "EVENTS_TOPIC",
    "KEYS_TOPIC",
    "MIRROR_TOPIC",
    "PARENT_ID",
    "PROJECT",
    "ROOT",
    "TOKEN",
    "TRACEPARENT",
    "TRACE_ID",
    "USER_HEADERS",
    "USER_ID",
    "ClientFactory",
    "EmptyAdapter",
    "OtlpReceiver",
    "ReceivedSpan",
    "Writes",
    "headers_with",
    "logged_lines",
    "pubsub_settings",
    "send_raw",
    "subscription",
    "wire_contact",
]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
"""``await make_client(adapter, **settings)`` (the ``make_client`` fixture)."""

USER_ID = "user-1"
API_KEY = "key-0123456789abcdef"
API_URL = "https://crm.example.com"


def headers_with(**changes: str | None) -> dict[str, str]:
    """The headers of `USER_HEADERS` with some changed: `user_headers`' keywords, ``None``
    leaves a header out (``headers_with(api_key="k2")``, ``headers_with(user_id=None)``)."""
    user: dict[str, str | None] = {"user_id": USER_ID, "api_key": API_KEY, "api_url": API_URL}
    return user_headers(**{**user, **changes})


USER_HEADERS = headers_with()
"""The ``x-*`` headers of one user (`USER_ID`, `API_KEY`, `API_URL`, locale ``de-DE``),
made by the shipped test kit."""


ROOT = Path(__file__).resolve().parents[1]
"""The project's root: the working directory of the bridge processes tests start."""


class EmptyAdapter(Adapter):
    """Implements nothing: every route answers its 501."""


class Writes(Adapter):
    """Counts the calls of its write routes (contacts, call events) and answers each."""

    def __init__(self) -> None:
        self.calls = 0

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.calls += 1
        return {"id": "new", **contact.to_wire()}

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Any:
        self.calls += 1
        return contact.to_wire()

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        self.calls += 1
        return "ref"


def wire_contact(id: str, **fields: Any) -> dict[str, Any]:
    """A contact with every field the bridge answers: ``name`` to ``avatarUrl`` null and
    no phone numbers, unless ``fields`` say otherwise."""
    nulls = ("name", "firstName", "lastName", "email", "organization", "contactUrl", "avatarUrl")
    return {"id": id, **dict.fromkeys(nulls), "phoneNumbers": [], **fields}


@contextlib.contextmanager
def logged_lines(
    name: str, formatter: logging.Formatter, level: int = logging.INFO
) -> Iterator[io.StringIO]:
    """What logger ``name`` writes inside the block, formatted by ``formatter``, at
    ``level`` or above (read the stream after the block)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


async def send_raw(client: TestClient[Any, Any], data: bytes) -> tuple[int, bytes]:
    """Send raw bytes to the test server (headers no client would send); (status, body)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


BOUNDED = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
"""Hypothesis settings of the property tests: reproducible (derandomized, no example
database), no per-example deadline, a few seconds per test."""

CALL: dict[str, Any] = {
    "id": "call-1",
    "startTime": 1700000000000,
    "endTime": 1700000060000,
    "direction": "IN",
    "participants": [
        {"type": "local", "phoneNumber": "+4921100000"},
        {"type": "remote", "phoneNumber": "+4915712345678"},
    ],
    "note": "",
    "state": "CONNECTED",
}
"""A call event body as the platform sends it."""

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
"""A sampled W3C ``traceparent`` of trace `TRACE_ID` with parent span `PARENT_ID`."""

# -- Pub/Sub ---------------------------------------------------------------------------

PROJECT = "test-project"
CONTACTS_TOPIC = f"projects/{PROJECT}/topics/contacts"
MIRROR_TOPIC = f"projects/{PROJECT}/topics/contacts-mirror"
EVENTS_TOPIC = f"projects/{PROJECT}/topics/events"
KEYS_TOPIC = f"projects/{PROJECT}/topics/provider-keys"
TOKEN = "ya29.fake-workload-identity-token"
"""The bearer token the fake metadata server hands out and the emulator wants."""


async def wait_healthy(session: aiohttp.ClientSession, port: int) -> None:
    """Wait (up to 20 s) until a bridge process on ``port`` answers GET /health with 200."""
    for _ in range(200):
        try:
            async with session.get(f"http://127.0.0.1:{port}/health") as response:
                assert response.status == 200
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no bridge answered on port {port}")


def subscription(topic: str) -> str:
    """The test subscription of a topic."""
    return topic.replace("/topics/", "/subscriptions/")


def pubsub_settings(emu: PubSubEmulator, **changes: Any) -> Settings:
    """Settings pointing at the emulator with every topic configured."""
    base: dict[str, Any] = {
        "pubsub_emulator_host": emu.host,
        "integration_name": "test-bridge",
        "google_cloud_project": PROJECT,
        "pubsub_topic_name_contact_streaming": "contacts",
        "pubsub_topic_name_integration_events": EVENTS_TOPIC,
        "pubsub_topic_name_update_provider_key": KEYS_TOPIC,
        "shutdown_timeout": 2.0,
    }
    return Settings(**{**base, **changes})


# -- OTLP/HTTP trace receiver (protobuf, as the exporter sends) --------------------------


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass
class ReceivedSpan:
    """One exported span, ids as lowercase hex."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class OtlpReceiver:
    """Collects every span posted to ``/v1/traces``; ``headers`` keeps each request's headers."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._export)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1/traces"))

    async def _export(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            resource=resource,
                        )
                    )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def named(self, name: str) -> list[ReceivedSpan]:
        """The spans called ``name``."""
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> ReceivedSpan:
        """The single span called ``name``."""
        found = self.named(name)
        assert len(found) == 1, (name, [span.name for span in self.spans])
        return found[0]
