"""``python -m integration_bridge run``: start, answer, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
