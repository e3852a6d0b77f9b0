"""``python -m integration_bridge run``: start, answer, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from integration_bridge.testing.redis_server import free_port
from tests.support import ROOT


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "LOG_LEVEL": "WARNING", **(env or {})}
    full_env.pop("PUBSUB_EMULATOR_HOST", None)
    return subprocess.Popen(
        [sys.executable, "-m", "integration_bridge", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    """Kill the process if it still runs and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=15)


def wait_for(url: str, deadline: float = 15.0) -> str:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                body: str = response.read().decode()
                return body
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_serves_and_stops_on_sigterm(workers: str) -> None:
    port = free_port()
    process = start(
        "run",
        "examples.demo_bridge:DemoBridge",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        workers,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/health") == "OK"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        stop(process)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()


def test_workers_stopped_before_they_serve_exit_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        "run",
        "tests.slow_start_bridge:SlowStartBridge",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "3",
        env={"SLOW_START_DIR": str(tmp_path)},
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/health") == "OK"
        process.send_signal(signal.SIGTERM)  # two workers are still in __init__
        assert process.wait(timeout=15) == 0
    finally:
        stop(process)


def test_port_from_environment() -> None:
    port = free_port()
    process = start(
        "run", "examples.demo_bridge:DemoBridge", "--host", "127.0.0.1", env={"PORT": str(port)}
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/health") == "OK"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        stop(process)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nomodule_xyz:Bridge", "cannot import module 'nomodule_xyz'"),
        ("examples.demo_bridge:Nope", "has no attribute 'Nope'"),
        ("examples.fake_crm:FIRST_NAMES", "is a list, not an Adapter"),
        ("examples.fake_crm:generate_contacts", "failed"),
        ("examples.demo_bridge", "expected MODULE:ATTR"),
    ],
)
def test_bad_targets_fail_with_one_clear_line(target: str, message: str) -> None:
    process = start("run", target)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and message in lines[0]


def test_bad_setting_names_the_variable() -> None:
    process = start("run", "examples.demo_bridge:DemoBridge", env={"CONTACT_FETCH_TIMEOUT": "soon"})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.strip().splitlines() == [
        "error: CONTACT_FETCH_TIMEOUT: expected a number, got 'soon'"
    ]


async def test_run_mounts_the_routes_an_adapter_declares(aiohttp_server: Any) -> None:
    posted: list[str] = []

    async def slack(request: web.Request) -> web.Response:
        posted.append((await request.json())["text"])
        return web.Response(text="ok")

    slack_app = web.Application()
    slack_app.router.add_post("/hook", slack)
    slack_server = await aiohttp_server(slack_app)
    port = free_port()
    process = start(
        "run",
        "tests.gdpr_bridge:GdprBridge",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env={"SLACK_WEBHOOK_URL": str(slack_server.make_url("/hook"))},
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(150):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/own/ping") as response:
                        assert await response.text() == "pong"
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with session.post(
                f"http://127.0.0.1:{port}/gdpr/customers/redact/", json={"customer": {"id": 7}}
            ) as response:
                assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        stop(process)
    assert len(posted) == 1
    assert posted[0].startswith(f"GDPR request: host 127.0.0.1:{port}, path /customers/redact/")
