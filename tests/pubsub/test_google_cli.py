"""A bridge process started by the CLI on the Google path, as on GKE (SPEC 7, 8, 9).

Topic names and no key file: the credentials come from a fake metadata server,
the emulator stands in for Google's endpoint and refuses requests without the
bearer token, tracing exports to an OTLP receiver and ``/metrics`` is on.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration_bridge.testing.metadata_server import FakeMetadataServer
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from integration_bridge.testing.redis_server import free_port
from tests.support import (
    CONTACTS_TOPIC,
    PROJECT,
    TOKEN,
    USER_HEADERS,
    OtlpReceiver,
    subscription,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    await otlp.start()
    yield otlp
    await otlp.close()


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
