"""The processes a benchmark loads: the bench bridge and the bare baseline server.

Every server runs on a free port of 127.0.0.1, is waited for on ``/health``
and is stopped (SIGTERM, then SIGKILL) when its ``with`` block ends::

    with bridge({"BENCH_CONTACTS": "1000"}) as ours, baseline(1000) as ceiling:
        warm(ours.port)
        drive(ours.url("/contacts"), ...)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from integration_bridge.testing.redis_server import free_port as free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-0"
"""The provider key of the user the serving scenarios load."""

BRIDGE_COMMAND = [
    "-m", "integration_bridge", "run", "benchmarks.bench_bridge:BenchBridge",
    "--host", "127.0.0.1",
]  # fmt: skip
"""``python <BRIDGE_COMMAND>`` starts the bench bridge (port from ``PORT``)."""


@dataclass(frozen=True)
class Server:
    """A running server process on loopback."""

    port: int
    pid: int

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://127.0.0.1:{self.port}{path}"


def server_env(port: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process: quiet logs, its port, the repository on the path."""
    return {
        **os.environ,
        "LOG_LEVEL": "ERROR",
        "PORT": str(port),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """A blocking GET on loopback: (status, body, headers)."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read(), dict(response.headers)


def wait_healthy(port: int, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    """Block until ``/health`` answers."""
    end = time.monotonic() + deadline
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            get(f"http://127.0.0.1:{port}/health")
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@contextmanager
def serve(
    command: list[str], env: dict[str, str] | None = None, program: str = sys.executable
) -> Iterator[Server]:
    """Start ``<program> <command>`` (Python by default) on a free port (``{port}`` is replaced)."""
    port = free_port()
    process = subprocess.Popen(
        [program, *[part.replace("{port}", str(port)) for part in command]],
        cwd=ROOT,
        env=server_env(port, env),
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process)
        yield Server(port, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bridge(env: dict[str, str] | None = None, workers: int = 1) -> AbstractContextManager[Server]:
    """The bench bridge (memory cache, no refresh during the run, no Pub/Sub)."""
    base = {"CACHE_REFRESH_INTERVAL": "86400", "PUBSUB_EMULATOR_HOST": ""}
    return serve([*BRIDGE_COMMAND, "--workers", str(workers)], {**base, **(env or {})})


def baseline(contacts: int) -> AbstractContextManager[Server]:
    """The bare aiohttp server sending the bytes the bridge sends for ``contacts``."""
    return serve(["-m", "benchmarks.baseline", "--port", "{port}", "--contacts", str(contacts)])


ORIGINAL = ROOT / "benchmarks" / "original"
"""The original framework's cold path re-created on its own stack (Node.js, Express)."""


def original_missing() -> str | None:
    """Why `original` cannot start here (no Node.js), or None; installs its packages once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed"
    if not (ORIGINAL / "node_modules").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=ORIGINAL,
            check=True,
            timeout=600,
        )
    return None


def original(lists: Path) -> AbstractContextManager[Server]:
    """The original's cold GET /contacts (`benchmarks/original/server.js`) for a lists file."""
    return serve([str(ORIGINAL / "server.js")], {"BENCH_LISTS": str(lists)}, program="node")


def headers_for(key: str, gzip: bool = False) -> dict[str, str]:
    """Request headers of one user."""
    headers = {"x-user-id": "bench", "x-provider-key": key, "x-provider-locale": "de-DE"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    return headers


def warm(port: int, key: str = KEY) -> int:
    """Request a user's contacts until they are cached; returns the body size."""
    for _ in range(600):
        _, body, headers = get(f"http://127.0.0.1:{port}/contacts", headers_for(key))
        if headers.get("X-Fetching-State") != "pending":
            return len(body)
        time.sleep(0.05)
    raise RuntimeError("contacts never got cached")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
