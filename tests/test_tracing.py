"""OpenTelemetry tracing: spans reach an OTLP/HTTP receiver with the right names and parents."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integration_bridge import Adapter, Config, Settings, SettingsError, create_app
from integration_bridge.logging import JsonFormatter
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from integration_bridge.testing.redis_server import free_port
from tests.support import (
    API_KEY,
    CONTACTS_TOPIC,
    EVENTS_TOPIC,
    PARENT_ID,
    ROOT,
    TRACE_ID,
    TRACEPARENT,
    USER_HEADERS,
    OtlpReceiver,
    logged_lines,
    pubsub_settings,
    subscription,
    wait_healthy,
)

SERVER, CLIENT, PRODUCER = 2, 3, 4  # OTLP span kinds

_bridge_log = logging.getLogger("tests.tracing.bridge")


def contact(id: str) -> dict[str, Any]:
    return {"id": id, "name": "Ada", "phoneNumbers": [{"label": "WORK", "phoneNumber": "+4930123"}]}


class TracedAdapter(Adapter):
    """Contacts from a fake CRM reached with aiohttp; a stream of two batches."""

    def __init__(self, crm_url: str = "") -> None:
        self.crm_url = crm_url

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        _bridge_log.warning("fetching contacts")
        return [contact("1"), contact("2")]

    async def get_contact(self, config: Config, id: str, type: Any) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.crm_url}/crm/contacts/{id}") as response,
        ):
            body: dict[str, Any] = await response.json()
            return body

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[dict[str, Any]]]:
        yield [contact("1")]
        yield [contact("2")]


@pytest.fixture
async def crm() -> AsyncIterator[tuple[str, list[str]]]:
    """A fake CRM on loopback; yields its URL and the traceparent headers it received."""
    seen: list[str] = []

    async def one(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent", ""))
        return web.json_response(contact(request.match_info["id"]))

    app = web.Application()
    app.router.add_get("/crm/contacts/{id}", one)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), seen
    await server.close()


def traced(receiver: OtlpReceiver, **changes: Any) -> Settings:
    return Settings(
        integration_name="test-bridge",
        google_cloud_project="my-project",
        otel_exporter_otlp_traces_endpoint=receiver.endpoint,
        **changes,
    )


async def test_request_spans_continue_traceparent_and_nest(
    aiohttp_client: Any, receiver: OtlpReceiver, crm: tuple[str, list[str]]
) -> None:
    crm_url, crm_seen = crm
    client = await aiohttp_client(create_app(TracedAdapter(crm_url), settings=traced(receiver)))
    headers = {**USER_HEADERS, "traceparent": TRACEPARENT}
    assert (await client.get("/contacts", headers=headers)).status == 200
    assert (await client.get("/contacts", headers=headers)).status == 200
    assert (await client.get("/contacts/c-42?type=contacts", headers=USER_HEADERS)).status == 200
    await client.close()  # shuts the provider down: every span is exported

    servers = receiver.named("GET /contacts")
    assert len(servers) == 2
    for server in servers:
        assert server.kind == SERVER
        assert server.trace_id == TRACE_ID
        assert server.parent_span_id == PARENT_ID
        assert server.attributes["http.route"] == "/contacts"
        assert server.attributes["http.response.status_code"] == 200
        assert server.resource["service.name"] == "bridge.test-bridge"
    caches = receiver.named("contacts.cache")
    assert [span.attributes["bridge.cache.outcome"] for span in caches] == ["miss", "fresh"]
    assert [span.parent_span_id for span in caches] == [span.span_id for span in servers]
    fetch = receiver.one("adapter.get_contacts")
    assert (fetch.trace_id, fetch.parent_span_id) == (TRACE_ID, caches[0].span_id)

    # Named by route template, never by a path carrying an id.
    single = receiver.one("GET /contacts/{id}")
    assert not any("c-42" in span.name for span in receiver.spans)
    assert single.trace_id != TRACE_ID and single.parent_span_id == ""
    adapter_span = receiver.one("adapter.get_contact")
    assert adapter_span.parent_span_id == single.span_id
    crm_calls = [span for span in receiver.spans if span.kind == CLIENT]
    assert len(crm_calls) == 1
    assert crm_calls[0].parent_span_id == adapter_span.span_id
    # The CRM got the trace context of the client span.
    assert len(crm_seen) == 1
    assert crm_seen[0].startswith(f"00-{single.trace_id}-{crm_calls[0].span_id}-")


async def test_unmatched_path_span_is_the_method_alone(
    aiohttp_client: Any, receiver: OtlpReceiver
) -> None:
    client = await aiohttp_client(create_app(TracedAdapter(), settings=traced(receiver)))
    assert (await client.get("/no/such/user-123")).status == 404
    await client.close()
    assert [span.name for span in receiver.spans] == ["GET"]


async def test_api_key_is_sent_as_apikey_header(
    aiohttp_client: Any, receiver: OtlpReceiver
) -> None:
    settings = traced(receiver, backend_tracing_api_key="tracing-secret")
    client = await aiohttp_client(create_app(TracedAdapter(), settings=settings))
    assert (await client.get("/health")).status == 200
    await client.close()
    assert receiver.one("GET /health")
    assert receiver.headers and all(h.get("apikey") == "tracing-secret" for h in receiver.headers)


async def test_stream_messages_carry_the_request_trace(
    aiohttp_client: Any, receiver: OtlpReceiver, emulator: PubSubEmulator
) -> None:
    settings = pubsub_settings(emulator, otel_exporter_otlp_traces_endpoint=receiver.endpoint)
    client = await aiohttp_client(create_app(TracedAdapter(), settings=settings))
    response = await client.post(
        "/contacts/stream",
        headers={**USER_HEADERS, "traceparent": TRACEPARENT, "tracestate": "vendor=1"},
    )
    assert response.status == 200
    received: list[Any] = []
    for _ in range(300):
        received += emulator.drain(subscription(CONTACTS_TOPIC))
        if any(m.json()["state"] == "COMPLETE" for m in received):
            break
        await asyncio.sleep(0.01)
    await client.close()

    assert [m.json()["state"] for m in received] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    request_span = receiver.one("POST /contacts/stream")
    assert request_span.trace_id == TRACE_ID
    expected = f"00-{TRACE_ID}-{request_span.span_id}-01"
    for message in received:
        assert message.json()["traceparent"] == expected
        assert message.json()["tracestate"] == "vendor=1"
        assert message.attributes == {"traceparent": expected, "tracestate": "vendor=1"}
    publishes = receiver.named("pubsub.publish contacts")
    assert publishes and all(span.kind == PRODUCER for span in publishes)
    assert all(span.trace_id == TRACE_ID for span in publishes)
    stream = receiver.one("adapter.stream_contacts")
    assert stream.parent_span_id == request_span.span_id
    assert stream.attributes["bridge.stream.batches"] == 2


async def test_redis_commands_are_spans(
    aiohttp_client: Any, receiver: OtlpReceiver, redis_url: str
) -> None:
    settings = traced(receiver, redis_url=redis_url)
    client = await aiohttp_client(create_app(TracedAdapter(), settings=settings))
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    await client.close()
    server = receiver.one("GET /contacts")
    commands = [span for span in receiver.spans if span.attributes.get("db.system") == "redis"]
    assert {span.name for span in commands} >= {"MGET", "SET"}
    # Redis keys are provider keys: statements are sent with their arguments masked.
    assert not any(API_KEY in str(span.attributes) for span in receiver.spans)
    assert all(span.trace_id == server.trace_id for span in commands)


async def test_log_lines_in_a_traced_request_carry_cloud_logging_fields(
    aiohttp_client: Any, receiver: OtlpReceiver
) -> None:
    with logged_lines(_bridge_log.name, JsonFormatter()) as stream:
        client = await aiohttp_client(create_app(TracedAdapter(), settings=traced(receiver)))
        headers = {**USER_HEADERS, "traceparent": TRACEPARENT}
        assert (await client.get("/contacts", headers=headers)).status == 200
        await client.close()
    line = orjson.loads(stream.getvalue().splitlines()[0])
    fetch = receiver.one("adapter.get_contacts")
    assert line["severity"] == "WARNING"
    assert line["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE_ID}"
    assert line["logging.googleapis.com/spanId"] == fetch.span_id
    assert line["logging.googleapis.com/trace_sampled"] is True


def test_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings.from_env({}).tracing_enabled
    assert Settings.from_env({"BACKEND_TRACING_ENABLED": "true"}).tracing_enabled
    assert Settings.from_env({"BACKEND_TRACING_API_KEY": "k"}).tracing_enabled
    assert Settings.from_env({"OTEL_TRACES_EXPORTER": "otlp"}).tracing_enabled
    assert not Settings.from_env({"OTEL_TRACES_EXPORTER": "none"}).tracing_enabled
    by_base = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert by_base.tracing_enabled
    assert by_base.traces_endpoint == "http://collector:4318/v1/traces"
    own = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://other:4318/traces",
        }
    )
    assert own.traces_endpoint == "http://other:4318/traces"
    with pytest.raises(SettingsError, match="OTEL_TRACES_EXPORTER"):
        Settings.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    off = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not Settings.from_env(off).tracing_enabled
    assert not Settings.from_env({**off, "BACKEND_TRACING_ENABLED": "true"}).tracing_enabled
    assert Settings.from_env({**off, "OTEL_SDK_DISABLED": "false"}).tracing_enabled
    with pytest.raises(SettingsError, match="OTEL_SDK_DISABLED"):
        Settings.from_env({"OTEL_SDK_DISABLED": "maybe"})


async def test_sdk_disabled_exports_nothing(aiohttp_client: Any, receiver: OtlpReceiver) -> None:
    """OpenTelemetry's own off switch: no spans, even with an endpoint configured."""
    settings = traced(receiver, otel_sdk_disabled=True)
    client = await aiohttp_client(create_app(TracedAdapter(), settings=settings))
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    await client.close()
    assert receiver.spans == []


def test_tracing_off_imports_no_opentelemetry() -> None:
    """Off by default, and then not a single OpenTelemetry (or, metrics off, Prometheus)
    module is loaded."""
    code = """
import asyncio, sys
from aiohttp.test_utils import TestClient, TestServer
from integration_bridge import Adapter, Settings, create_app

class Bridge(Adapter):
    async def get_contacts(self, config):
        return []

async def main():
    app = create_app(Bridge(), settings=Settings.from_env({}))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/contacts")).status == 200
        assert (await client.get("/health")).status == 200
    loaded = sorted(
        name for name in sys.modules if name.startswith(("opentelemetry", "prometheus_client"))
    )
    assert not loaded, loaded
    print("ok")

asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


async def test_sub_application_requests_are_traced(
    aiohttp_client: Any, receiver: OtlpReceiver
) -> None:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    extra = web.Application()
    extra.router.add_get("/ping/{id}", ping)
    app = create_app(TracedAdapter(), settings=traced(receiver), routes=[("/extra", extra)])
    client = await aiohttp_client(app)
    assert (await client.get("/extra/ping/p-1")).status == 200
    await client.close()
    assert receiver.one("GET /extra/ping/{id}").kind == SERVER


async def test_cli_bridge_exports_spans_configured_by_otel_variables(
    receiver: OtlpReceiver,
) -> None:
    """``python -m integration_bridge run`` with only OTEL_* set: spans arrive while it runs."""
    port = free_port()
    env = {
        **os.environ,
        "LOG_LEVEL": "ERROR",
        "INTEGRATION_NAME": "cli-bridge",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint.removesuffix("/v1/traces"),
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "integration_bridge", "run", "examples.demo_bridge:DemoBridge"),
        *("--host", "127.0.0.1", "--port", str(port)),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port)
            headers = {"traceparent": TRACEPARENT}
            async with session.get(f"http://127.0.0.1:{port}/health", headers=headers) as response:
                assert response.status == 200
        traced = [span for span in receiver.spans if span.trace_id == TRACE_ID]
        for _ in range(80):  # exported within seconds (the SDK default waits 5), while it runs
            if len(traced) == 2:
                break
            await asyncio.sleep(0.05)
            traced = [span for span in receiver.spans if span.trace_id == TRACE_ID]
        server = next(span for span in traced if span.name == "GET /health")
        assert server.parent_span_id == PARENT_ID
        assert server.resource["service.name"] == "bridge.cli-bridge"
        (health,) = [span for span in traced if span.name == "adapter.get_health"]
        assert health.parent_span_id == server.span_id
    finally:
        process.terminate()
        assert await process.wait() == 0


class WebhookBridge(Adapter):
    async def verify_webhook_request(self, request: web.Request) -> bool:
        return True

    async def handle_webhook(self, request: web.Request) -> list[dict[str, Any]]:
        return [{"type": "CONTACT_UPDATED", "accountId": "a", "contactId": "c1"}]


async def test_webhook_events_carry_the_publish_span_as_attributes(
    aiohttp_client: Any, receiver: OtlpReceiver, emulator: PubSubEmulator
) -> None:
    settings = pubsub_settings(emulator, otel_exporter_otlp_traces_endpoint=receiver.endpoint)
    client = await aiohttp_client(create_app(WebhookBridge(), settings=settings))
    response = await client.post("/webhook", json={}, headers={"traceparent": TRACEPARENT})
    assert response.status == 200
    (message,) = emulator.drain(subscription(EVENTS_TOPIC))
    await client.close()
    publish = receiver.one("pubsub.publish events")
    assert publish.trace_id == TRACE_ID
    assert receiver.one("POST /webhook").span_id == publish.parent_span_id
    assert message.attributes == {"traceparent": f"00-{TRACE_ID}-{publish.span_id}-01"}
    assert "traceparent" not in message.json()  # the event's shape stays the original's
