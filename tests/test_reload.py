"""``run --reload``: an edited bridge is served again without a manual restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from integration_bridge.reload import watched_paths
from integration_bridge.testing.redis_server import free_port

BRIDGE = """
from integration_bridge import Adapter, Config


class Bridge(Adapter):
    async def get_account_id(self, config: Config) -> str:
        return "{version}"
"""


def account_id(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/account/id", timeout=1) as r:
            body: str = r.read().decode()
            return body
    except (OSError, urllib.error.URLError):
        return None


def wait_for_body(port: int, expected: str, deadline: float) -> str | None:
    end = time.monotonic() + deadline
    body = account_id(port)
    while body != expected and time.monotonic() < end:
        time.sleep(0.1)
        body = account_id(port)
    return body


def test_reload_serves_the_edited_bridge(tmp_path: Path) -> None:
    module = tmp_path / "reloaded_bridge.py"
    module.write_text(BRIDGE.format(version="v1"))
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "INFO"}
    env.pop("PUBSUB_EMULATOR_HOST", None)
    env.pop("LOG_PLAIN", None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "integration_bridge", "run", "reloaded_bridge:Bridge"),
            *("--host", "127.0.0.1", "--port", str(port), "--reload"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_for_body(port, '"v1"', 20) == '"v1"'
        time.sleep(0.3)  # the watcher is up before the server answers; give it a moment
        module.write_text(BRIDGE.format(version="v2"))
        assert wait_for_body(port, '"v2"', 20) == '"v2"'
        os.kill(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=5)
    assert process.returncode == 0
    assert "reloaded_bridge.py changed: restarting" in output
    # Plain-text log lines, not JSON.
    listening = [line for line in output.splitlines() if "listening on" in line]
    assert len(listening) == 2
    assert not any(line.lstrip().startswith("{") for line in listening)


def test_reload_and_workers_exclude_each_other() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "integration_bridge", "run", "x:Y", "--reload", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--reload runs one process" in result.stderr


def test_watched_paths(tmp_path: Path) -> None:
    framework = Path(str(__import__("integration_bridge").__file__)).resolve().parent
    paths = watched_paths("mybridge:MyBridge", cwd=tmp_path)
    assert sorted(paths) == sorted([tmp_path.resolve(), framework])
    # A bridge package outside the working directory is watched too.
    outside = tmp_path / "site" / "elsewhere_pkg"
    outside.mkdir(parents=True)
    (outside / "__init__.py").write_text("")
    sys.path.insert(0, str(outside.parent))
    try:
        assert outside.resolve() in watched_paths("elsewhere_pkg.bridge:B", cwd=framework)
    finally:
        sys.path.remove(str(outside.parent))
