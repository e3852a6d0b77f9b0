"""The pytest plugin (``pytest11`` entry point): a bridge's conftest is one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BRIDGE = """
import aiohttp
from integration_bridge import Adapter, Config


class Bridge(Adapter):
    def __init__(self, api_url: str = "") -> None:
        self.api_url = api_url

    async def get_contacts(self, config: Config) -> list[dict[str, object]]:
        async with aiohttp.ClientSession() as session, session.get(
            f"{config.api_url}/api/contacts",
            headers={"Authorization": f"Bearer {config.api_key}"},
        ) as response:
            response.raise_for_status()
            return (await response.json())["items"]
"""

TEST = """
from integration_bridge.testing import user_headers


async def test_contacts(bridge, fake_crm):
    fake_crm.paged("/api/contacts", [{"id": "1", "name": "Ada", "phoneNumbers": []}])
    headers = user_headers(api_url=fake_crm.url)
    response = await bridge.get("/contacts", headers=headers)
    assert response.status == 200
    assert [c["name"] for c in await response.json()] == ["Ada"]
    assert fake_crm.requests[0].token == "test-provider-key"


async def test_crm_errors_answer_500(bridge):
    assert (await bridge.get("/contacts", headers=user_headers())).status == 500
"""


def run_pytest(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(project: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text))


def test_one_line_conftest(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "my_bridge.py": BRIDGE,
            # A factory with an argument gets the test's started fake CRM.
            "conftest.py": "from integration_bridge.testing import adapter_fixture\n"
            "from my_bridge import Bridge\n\n"
            "bridge_adapter = adapter_fixture(lambda crm: Bridge(crm.url))\n",
            "test_factory.py": "def test_factory_got_the_crm(bridge_adapter, fake_crm):\n"
            "    assert bridge_adapter.api_url == fake_crm.url\n",
            "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n',
            "test_bridge.py": TEST,
        },
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_adapter_named_in_the_ini_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "my_bridge.py": BRIDGE,
            "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
            'bridge_adapter = "my_bridge:Bridge"\n',
            "test_bridge.py": TEST,
        },
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_missing_adapter_is_explained(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n',
            "test_bridge.py": "async def test_it(bridge):\n    pass\n",
        },
    )
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "adapter_fixture(MyBridge)" in result.stdout + result.stderr
