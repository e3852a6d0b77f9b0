"""``python -m integration_bridge new``: a generated bridge passes its own checks at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration_bridge.cli import main
from integration_bridge.scaffold import ScaffoldError, generate, names_for
from integration_bridge.testing import user_headers
from integration_bridge.testing.redis_server import free_port


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "integration_bridge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def checks(project: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """The generated project's own ``scripts/test``: ruff, mypy --strict, pytest."""
    env = {**os.environ, "PYTHON": sys.executable, "MYPY_CACHE_DIR": str(cache)}
    return subprocess.run(
        [str(project / "scripts" / "test"), "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def get(url: str, headers: dict[str, str] | None = None, deadline: float = 20) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
                body: bytes = r.read()
                return body
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def test_new_bridge_passes_its_checks_and_serves(tmp_path: Path, mypy_cache: Path) -> None:
    result = cli("new", "acme", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "acme-bridge"
    assert "scripts/test" in result.stdout
    assert (project / "src" / "acme_bridge" / "bridge.py").is_file()
    assert not (project / "tests" / "test_oauth2.py").exists()
    assert "get_oauth2_redirect_url" not in (project / "src/acme_bridge/bridge.py").read_text()
    assert (project / "tests" / "conftest.py").read_text().count("adapter_fixture(") == 1
    for name in ("Dockerfile", "README.md", ".ci/run", "pyproject.toml"):
        assert (project / name).is_file(), name
    readme = (project / "README.md").read_text()
    assert "scripts/test\n" in readme and "scripts/run --port 8080" in readme

    result = checks(project, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
    assert "6 passed" in result.stdout

    # Its README commands: the fake CRM by hand and the bridge with --reload.
    with served(project) as (crm_port, bridge_port):
        headers = user_headers(user_id="u1", api_key="t1", api_url=f"http://127.0.0.1:{crm_port}")
        get(f"http://127.0.0.1:{crm_port}/v1/me", {"Authorization": "Bearer t1"})
        contacts = json.loads(get(f"http://127.0.0.1:{bridge_port}/contacts", headers))
        assert [c["firstName"] for c in contacts][:2] == ["Ada", "Grace"]


@contextlib.contextmanager
def served(project: Path) -> Iterator[tuple[int, int]]:
    """``scripts/fake-crm`` and ``scripts/run`` of a generated project; their ports."""
    crm_port, bridge_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "LOG_LEVEL": "WARNING",
        "CRM_API_URL": f"http://127.0.0.1:{crm_port}",
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    processes = [
        subprocess.Popen(
            [str(project / "scripts" / script), "--port", str(port), *extra],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for script, port, extra in (
            ("fake-crm", crm_port, ()),
            ("run", bridge_port, ("--host", "127.0.0.1")),
        )
    ]
    try:
        yield crm_port, bridge_port
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def test_new_oauth2_bridge_passes_its_checks(tmp_path: Path, mypy_cache: Path) -> None:
    result = cli("new", "Zeta CRM", "--oauth2", "--directory", "zeta", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "zeta"
    assert (project / "src" / "zeta_crm_bridge" / "bridge.py").is_file()
    assert (project / "tests" / "test_oauth2.py").is_file()
    result = checks(project, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout

    # scripts/run starts it with its development OAuth2 settings.
    with served(project) as (crm_port, bridge_port):
        get(f"http://127.0.0.1:{crm_port}/v1/me", {"Authorization": "Bearer t1"})
        body = json.loads(get(f"http://127.0.0.1:{bridge_port}/oauth2/redirect"))
        assert body["redirectUrl"].startswith(f"http://127.0.0.1:{crm_port}/oauth/authorize?")


def test_names() -> None:
    assert names_for("acme") == {
        "crm_name": "acme CRM",
        "project": "acme-bridge",
        "package": "acme_bridge",
        "class_name": "AcmeBridge",
    }
    assert names_for("Big CRM")["class_name"] == "BigCrmBridge"
    assert names_for("Big CRM")["crm_name"] == "Big CRM"
    assert names_for("hub_spot-bridge")["package"] == "hub_spot_bridge"
    for bad in ("", "1acme", "acme!", "a--b", "../x", "acme/evil"):
        with pytest.raises(ScaffoldError):
            names_for(bad)


def test_refuses_a_directory_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not an empty directory"):
        generate("acme", tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert main(["new", "acme!", "--directory", str(tmp_path / "x")]) == 2
    assert "bad NAME" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
