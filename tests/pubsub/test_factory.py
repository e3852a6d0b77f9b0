"""Pub/Sub backend choice (SPEC 7): Google with Application Default Credentials.

A fake metadata server on loopback hands out the token (as Workload Identity
does on GKE); the emulator, standing in for Google's endpoint, refuses any
request without that bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import gcloud.aio.auth  # noqa: F401 - imported first, as in a full run: reads GCE_METADATA_HOST now
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from integration_bridge import Adapter, Config, Contact, Settings, SettingsError, create_app
from integration_bridge.appkeys import STREAMER
from integration_bridge.pubsub.factory import PubSubBackend, api_root, choose_backend
from integration_bridge.testing.metadata_server import FakeMetadataServer
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from integration_bridge.testing.redis_server import free_port
from tests.support import (
    CONTACTS_TOPIC,
    PROJECT,
    ROOT,
    TOKEN,
    TRACE_ID,
    TRACEPARENT,
    USER_HEADERS,
    OtlpReceiver,
    subscription,
    wait_healthy,
)


class StreamingAdapter(Adapter):
    async def stream_contacts(self, config: Config) -> AsyncIterator[list[Contact]]:
        for start in range(0, 6, 2):
            yield [
                Contact(id=str(i), name=f"Contact {i}", phone_numbers=[])
                for i in range(start, start + 2)
            ]


async def start(app: web.Application) -> None:
    """Run the app's start-up (and its clean-up, whatever happens)."""
    runner = web.AppRunner(app)
    try:
        await runner.setup()
    finally:
        await runner.cleanup()


def google_settings(endpoint: str, **changes: Any) -> Settings:
    base: dict[str, Any] = {
        "integration_name": "test-bridge",
        "pubsub_topic_name_contact_streaming": "contacts",  # short: project from metadata
        "pubsub_api_endpoint": endpoint,
        "pubsub_credentials_timeout": 2.0,
        "shutdown_timeout": 2.0,
    }
    return Settings(**{**base, **changes})


async def wait_for_messages(emu: PubSubEmulator, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    for _ in range(200):
        received += [m.json() for m in emu.drain(subscription(CONTACTS_TOPIC))]
        if len(received) >= count:
            return received
        await asyncio.sleep(0.02)
    return received


@pytest.mark.parametrize(
    ("settings", "backend", "reason"),
    [
        (Settings(), PubSubBackend.LOCAL, "no Pub/Sub topic is configured"),
        (
            Settings(pubsub_topic_name_integration_events="events"),
            PubSubBackend.GOOGLE,
            "PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS is set",
        ),
        (
            Settings(pubsub_additional_topic_name="mirror"),
            PubSubBackend.GOOGLE,
            "PUBSUB_ADDITIONAL_TOPIC_NAME is set",
        ),
        (
            Settings(pubsub_emulator_host="127.0.0.1:1", pubsub_topic_name_contact_streaming="c"),
            PubSubBackend.EMULATOR,
            "PUBSUB_EMULATOR_HOST is set",
        ),
        (
            Settings(pubsub_backend="local", pubsub_emulator_host="127.0.0.1:1"),
            PubSubBackend.LOCAL,
            "PUBSUB_BACKEND=local",
        ),
        (
            Settings(pubsub_backend="google", pubsub_emulator_host="127.0.0.1:1"),
            PubSubBackend.GOOGLE,
            "PUBSUB_BACKEND=google",
        ),
        (
            Settings(google_application_credentials="/key.json"),
            PubSubBackend.LOCAL,
            "no Pub/Sub topic is configured",
        ),
    ],
)
def test_backend_choice(settings: Settings, backend: PubSubBackend, reason: str) -> None:
    choice = choose_backend(settings)
    assert (choice.backend, choice.reason) == (backend, reason)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "https://europe-west3-pubsub.googleapis.com/v1"),
        ("pubsub.googleapis.com:443", "https://pubsub.googleapis.com:443/v1"),
        ("http://127.0.0.1:8085", "http://127.0.0.1:8085/v1"),
        ("https://example.com/v1/", "https://example.com/v1"),
    ],
)
def test_api_endpoint(value: str | None, expected: str) -> None:
    env = {} if value is None else {"PUBSUB_API_ENDPOINT": value}
    assert api_root(Settings.from_env(env).pubsub_api_endpoint) == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PUBSUB_BACKEND", "gcp"),
        ("PUBSUB_API_ENDPOINT", "ftp://pubsub.example.com"),
        ("WEBHOOK_PUBLISH_TIMEOUT", "soon"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({variable: value})
    assert error.value.variable == variable


def test_emulator_backend_needs_the_host() -> None:
    with pytest.raises(SettingsError, match="PUBSUB_EMULATOR_HOST"):
        create_app(
            StreamingAdapter(),
            settings=google_settings("http://127.0.0.1:1", pubsub_backend="emulator"),
        )


async def test_stream_reaches_google_with_the_metadata_servers_token(
    aiohttp_client: Any,
    metadata: FakeMetadataServer,
    google: PubSubEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="integration_bridge.pubsub")
    app = create_app(StreamingAdapter(), settings=google_settings(google.url))
    client = await aiohttp_client(app)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[PubSub]")]
    assert lines == [
        f"[PubSub] Google Pub/Sub at {google.url}/v1, project {PROJECT}, credentials: metadata"
        " server (PUBSUB_TOPIC_NAME_CONTACT_STREAMING is set)"
    ]
    assert all(TOKEN not in record.getMessage() for record in caplog.records)

    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    timestamp = (await response.json())["timestamp"]
    received = await wait_for_messages(google, 4)
    assert [(m["state"], [c["id"] for c in m["contacts"]]) for m in received] == [
        ("IN_PROGRESS", ["0", "1"]),
        ("IN_PROGRESS", ["2", "3"]),
        ("IN_PROGRESS", ["4", "5"]),
        ("COMPLETE", []),
    ]
    assert {m["timestamp"] for m in received} == {timestamp}
    assert google.unauthorized_requests == 0
    assert google.authorized_requests >= 1
    assert metadata.token_requests == 1  # cached, not fetched per request


async def test_emulator_refuses_requests_without_the_token(
    aiohttp_client: Any, metadata: FakeMetadataServer, google: PubSubEmulator
) -> None:
    metadata.token = "some-other-token"
    client = await aiohttp_client(
        create_app(StreamingAdapter(), settings=google_settings(google.url))
    )
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    streamer = client.app[STREAMER]
    for _ in range(200):
        if not streamer.running:
            break
        await asyncio.sleep(0.02)
    assert google.unauthorized_requests >= 2  # the batch, then the FAILED state
    assert google.authorized_requests == 0
    assert google.drain(subscription(CONTACTS_TOPIC)) == []


async def test_no_credentials_stops_start_up(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch, no_adc: None
) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{free_port()}")
    app = create_app(
        StreamingAdapter(),
        settings=google_settings("http://127.0.0.1:1", pubsub_credentials_timeout=0.5),
    )
    with pytest.raises(SettingsError) as error:
        await start(app)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("GOOGLE_APPLICATION_CREDENTIALS: no Google credentials for Pub/Sub")
    assert "Workload Identity" in message and "PUBSUB_BACKEND=local" in message


async def test_metadata_server_without_a_service_account_stops_start_up(
    aiohttp_client: Any, metadata: FakeMetadataServer
) -> None:
    metadata.status = 404
    settings = google_settings("http://127.0.0.1:1", pubsub_credentials_timeout=0.5)
    app = create_app(StreamingAdapter(), settings=settings)
    with pytest.raises(SettingsError, match=r"metadata server: HTTP 404"):
        await start(app)


async def test_missing_key_file_stops_start_up(
    aiohttp_client: Any, no_adc: None, tmp_path: Path
) -> None:
    settings = google_settings(
        "http://127.0.0.1:1", google_application_credentials=str(tmp_path / "missing.json")
    )
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS: cannot use"):
        await start(create_app(StreamingAdapter(), settings=settings))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_without_credentials_fails_with_one_line(tmp_path: Path, workers: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GCE_METADATA_HOST": f"127.0.0.1:{free_port()}",
        "INTEGRATION_NAME": "demo",
        "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": "projects/p/topics/contacts",
        "PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS": "projects/p/topics/events",
        "PUBSUB_CREDENTIALS_TIMEOUT": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "integration_bridge",
            "run",
            "examples.demo_bridge:DemoBridge",
            "--workers",
            workers,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("error: GOOGLE_APPLICATION_CREDENTIALS: no Google credentials")


async def test_local_defaults_do_not_turn_into_google(
    aiohttp_client: Any, no_adc: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integration_bridge.pubsub")
    client = await aiohttp_client(create_app(StreamingAdapter(), settings=Settings()))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[PubSub]")]
    assert lines[-1] == (
        "[PubSub] Local publisher: messages are only logged (no Pub/Sub topic is configured)"
    )
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200


class FakeOAuthServer:
    """Google's OAuth token endpoint on loopback: key files and gcloud's file point here."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.grants: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeOAuthServer:
        async def token(request: web.Request) -> web.Response:
            form = await request.post()
            self.grants.append(str(form.get("grant_type")))
            return web.json_response({"access_token": self.token, "expires_in": 3600})

        app = web.Application()
        app.router.add_post("/token", token)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/token"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def service_account_key(token_uri: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "bridge@test-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


@contextlib.asynccontextmanager
async def google_wanting(token: str) -> AsyncIterator[tuple[FakeOAuthServer, PubSubEmulator]]:
    """A fake OAuth server handing out ``token`` and an emulator, with the contacts
    topic, that wants it."""
    async with FakeOAuthServer(token) as oauth, PubSubEmulator(bearer_token=token) as google:
        google.create_topic(CONTACTS_TOPIC)
        google.create_subscription(subscription(CONTACTS_TOPIC), CONTACTS_TOPIC)
        yield oauth, google


async def stream_completes(client: TestClient[Any, Any], google: PubSubEmulator) -> None:
    """A stream started through ``client`` reaches ``google`` in full; the client closes."""
    await client.post("/contacts/stream", headers=USER_HEADERS)
    assert [m["state"] for m in await wait_for_messages(google, 4)][-1] == "COMPLETE"
    await client.close()


async def started_line(caplog: pytest.LogCaptureFixture) -> str:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[PubSub]")]
    return lines[-1]


async def test_key_file_comes_before_the_metadata_server(
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    metadata: FakeMetadataServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="integration_bridge.pubsub")
    async with google_wanting("key-file-token") as (oauth, google):
        key_file = tmp_path / "key.json"
        key_file.write_text(json.dumps(service_account_key(oauth.url)))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        client = await aiohttp_client(
            create_app(StreamingAdapter(), settings=Settings.from_env(google_env(google)))
        )
        assert (await started_line(caplog)).endswith(
            f"project {PROJECT}, credentials: service_account from"
            " GOOGLE_APPLICATION_CREDENTIALS (PUBSUB_TOPIC_NAME_CONTACT_STREAMING is set)"
        )
        await stream_completes(client, google)
    assert oauth.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert metadata.token_requests == 0
    assert google.unauthorized_requests == 0


async def test_gclouds_file_comes_before_the_metadata_server(
    aiohttp_client: Any,
    metadata: FakeMetadataServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="integration_bridge.pubsub")
    async with google_wanting("user-token") as (oauth, google):
        gcloud = tmp_path / ".config" / "gcloud"  # HOME is tmp_path (no_adc)
        gcloud.mkdir(parents=True)
        (gcloud / "application_default_credentials.json").write_text(
            json.dumps(
                {
                    "type": "authorized_user",
                    "client_id": "id",
                    "client_secret": "secret",
                    "refresh_token": "refresh",
                    "token_uri": oauth.url,
                }
            )
        )
        env = {**google_env(google), "GOOGLE_CLOUD_PROJECT": PROJECT}
        client = await aiohttp_client(
            create_app(StreamingAdapter(), settings=Settings.from_env(env))
        )
        assert "credentials: authorized_user from gcloud's application-default" in (
            await started_line(caplog)
        )
        await stream_completes(client, google)
    assert oauth.grants == ["refresh_token"]
    assert metadata.token_requests == 0


def google_env(google: PubSubEmulator) -> dict[str, str]:
    """The environment of a GKE deployment, pointed at the stand-in endpoint."""
    return {
        "INTEGRATION_NAME": "test-bridge",
        "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": "contacts",
        "PUBSUB_API_ENDPOINT": google.url,
        "PUBSUB_CREDENTIALS_TIMEOUT": "2",
        "SHUTDOWN_TIMEOUT": "2",
    }


async def test_log_trace_field_names_the_project_found_on_the_metadata_server(
    aiohttp_client: Any,
    metadata: FakeMetadataServer,
    google: PubSubEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import orjson

    from integration_bridge.logging import JsonFormatter
    from tests.support import OtlpReceiver

    receiver = OtlpReceiver()
    await receiver.start()
    try:
        caplog.set_level(logging.INFO, logger="integration_bridge.http")
        settings = google_settings(google.url, otel_exporter_otlp_traces_endpoint=receiver.endpoint)
        client = await aiohttp_client(create_app(StreamingAdapter(), settings=settings))
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        headers = {**USER_HEADERS, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        assert (await client.post("/contacts/stream", headers=headers)).status == 200
        await client.close()
    finally:
        await receiver.close()
    (line,) = [
        orjson.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.getMessage().startswith("[request] POST /contacts/stream")
    ]
    assert line["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{trace_id}"


# --- A bridge process started by the CLI on the Google path, as on GKE (SPEC 7, 8, 9).
#
# Topic names and no key file: the credentials come from a fake metadata server,
# the emulator stands in for Google's endpoint and refuses requests without the
# bearer token, tracing exports to an OTLP receiver and ``/metrics`` is on.


async def test_cli_bridge_streams_to_google_with_traces_and_metrics(
    metadata: FakeMetadataServer,
    google: PubSubEmulator,
    receiver: OtlpReceiver,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LOG_LEVEL": "INFO",
        "INTEGRATION_NAME": "cli-bridge",
        "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": "contacts",  # the project from the metadata
        "PUBSUB_API_ENDPOINT": google.url,
        "PUBSUB_CREDENTIALS_TIMEOUT": "2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint.removesuffix("/v1/traces"),
        "METRICS_ENABLED": "true",
    }
    for name in ("PUBSUB_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "REDIS_URL"):
        env.pop(name, None)
    log = tmp_path / "bridge.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "integration_bridge", "run"),
            "tests.pubsub.test_factory:StreamingAdapter",
            *("--host", "127.0.0.1", "--port", str(port)),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    received: list[Any] = []
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port)
            async with session.post(
                f"http://127.0.0.1:{port}/contacts/stream",
                headers={**USER_HEADERS, "traceparent": TRACEPARENT},
            ) as response:
                assert response.status == 200
            for _ in range(300):
                received += google.drain(subscription(CONTACTS_TOPIC))
                if any(m.json()["state"] == "COMPLETE" for m in received):
                    break
                await asyncio.sleep(0.02)
            metrics = ""
            for _ in range(100):  # the stream task ends right after its last publish
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    metrics = await response.text()
                if re.search(r"^bridge_contact_streams_running 0\.0$", metrics, re.M):
                    break
                await asyncio.sleep(0.02)
        spans = [span for span in receiver.spans if span.trace_id == TRACE_ID]
        for _ in range(100):  # exported every second while it runs
            if any(span.name == "POST /contacts/stream" for span in spans):
                break
            await asyncio.sleep(0.05)
            spans = [span for span in receiver.spans if span.trace_id == TRACE_ID]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    output_text = log.read_text(errors="replace")

    bodies = [m.json() for m in received]
    assert [(b["state"], [c["id"] for c in b["contacts"]]) for b in bodies] == [
        ("IN_PROGRESS", ["0", "1"]),
        ("IN_PROGRESS", ["2", "3"]),
        ("IN_PROGRESS", ["4", "5"]),
        ("COMPLETE", []),
    ]
    assert google.authorized_requests >= 1 and google.unauthorized_requests == 0
    assert metadata.token_requests >= 1
    request_span = next(span for span in spans if span.name == "POST /contacts/stream")
    expected = f"00-{TRACE_ID}-{request_span.span_id}-01"
    assert all(b["traceparent"] == expected for b in bodies)
    assert all(m.attributes.get("traceparent") == expected for m in received)
    assert any(span.name == "pubsub.publish contacts" for span in spans)
    assert re.search(
        r'^bridge_pubsub_messages_total\{outcome="published"\} 4\.0$', metrics, re.M
    ), metrics
    assert re.search(r'^bridge_pubsub_messages_total\{outcome="failed"\} 0\.0$', metrics, re.M)
    assert f"project {PROJECT}, credentials: metadata server" in output_text
    assert TOKEN not in output_text
