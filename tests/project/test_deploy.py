"""The container and Kubernetes examples refer to what the code really has.

No Docker or cluster here: the files are read and their references (module
path, CLI options, port, probe path, environment variable names, labels) are
checked against the framework and the scaffold's template.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration_bridge import Adapter, Settings, create_app
from integration_bridge.cli import load_adapter
from integration_bridge.scaffold import generate
from integration_bridge.testing.redis_server import free_port
from tests.support import ROOT

DEPLOY = ROOT / "examples" / "deploy"
SETTINGS_VARIABLES = {
    name.upper()
    for field_name, field in Settings.model_fields.items()
    for name in [field_name, *getattr(field.validation_alias, "choices", [])]
    if isinstance(name, str)
}


def manifests() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def container(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(docs: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    env: dict[str, str | None] = {e["name"]: e.get("value") for e in container(docs)["env"]}
    for source in container(docs).get("envFrom", []):
        assert source["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
        env.update(docs["ConfigMap"]["data"])
    return env


def dockerfile_command(text: str) -> list[str]:
    """The command the CMD line runs, unwrapped from ``sh -c "exec ..."``."""
    match = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert match, "no exec-form CMD"
    words: list[str] = yaml.safe_load(match.group(1))
    if words[:2] == ["sh", "-c"]:
        assert words[2].startswith("exec "), "the shell must exec, so Python is PID 1"
        words = shlex.split(words[2])[1:]
    return words


def check_run_command(words: list[str]) -> None:
    """``python -m integration_bridge run MODULE:ATTR --workers <N>`` naming a real Adapter."""
    assert words[:4] == ["python", "-m", "integration_bridge", "run"]
    assert isinstance(load_adapter(words[4]), Adapter)
    options = words[5:]
    assert options[0] == "--workers"
    assert options[1] in ("$(WORKERS)", "${WORKERS}")
    assert len(options) == 2


def test_deployment_runs_the_cli_on_a_real_adapter() -> None:
    docs = manifests()
    words = container(docs)["command"]
    check_run_command(words)
    assert "WORKERS" in env_of(docs)


def test_port_and_probes_match_the_app() -> None:
    docs = manifests()
    spec = container(docs)
    (port,) = spec["ports"]
    env = env_of(docs)
    assert port["containerPort"] == int(env["PORT"] or 0) == Settings().port
    routes = {
        (r.method, r.resource.canonical)
        for r in create_app(Adapter(), settings=Settings()).router.routes()
        if r.resource is not None
    }
    for probe in ("readinessProbe", "livenessProbe"):
        get = spec[probe]["httpGet"]
        assert get["port"] == port["name"]
        assert ("GET", get["path"]) in routes
    service = docs["Service"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]


def test_environment_names_are_settings() -> None:
    env = env_of(build := manifests())
    unknown = set(env) - SETTINGS_VARIABLES - {"WORKERS"}
    assert not unknown, f"not settings of the framework: {unknown}"
    assert "REDIS_URL" in env and "INTEGRATION_NAME" in env
    assert any(name.startswith("PUBSUB_TOPIC_NAME") for name in env)
    grace = build["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(env["SHUTDOWN_TIMEOUT"] or Settings().shutdown_timeout)


def test_labels_workload_identity_and_autoscaling_fit_together() -> None:
    docs = manifests()
    deployment = docs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    account = docs["ServiceAccount"]
    assert (
        deployment["spec"]["template"]["spec"]["serviceAccountName"]
        == (account["metadata"]["name"])
    )
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        ".iam.gserviceaccount.com"
    )
    resources = container(docs)["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    kustomized = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(kustomized) == sorted(
        p.name for p in DEPLOY.glob("*.yaml") if p.stem != "kustomization"
    )


@pytest.mark.parametrize("source", ["example", "scaffold"])
def test_dockerfiles(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if source == "example":
        text = (DEPLOY / "Dockerfile").read_text()
    else:
        text = (generate("acme", tmp_path / "acme") / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")
    words = dockerfile_command(text)
    if source == "scaffold":
        assert words[4] == "acme_bridge:AcmeBridge"
        monkeypatch.syspath_prepend(str(tmp_path / "acme" / "src"))
    check_run_command(words)
    assert re.search(r"^ENV .*\bWORKERS=1\b", text, re.M | re.S)
    assert re.search(rf"^EXPOSE {Settings().port}$", text, re.M)
    assert "STOPSIGNAL SIGTERM" in text


def test_the_image_command_handles_sigterm_as_pid_1() -> None:
    """The example image's CMD, run as the container would: Python replaces the shell,
    takes SIGTERM itself, stops its workers and exits 0."""
    command = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert command is not None
    words = yaml.safe_load(command.group(1))
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "WORKERS": "2",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    process = subprocess.Popen(words, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the bridge did not start"
                time.sleep(0.2)
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"integration_bridge" in cmdline and cmdline[0] != b"sh"  # exec replaced sh
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 2  # the workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for child in children:  # reaped by the CLI itself, not left to an init process
            assert not Path(f"/proc/{child}").exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
