"""docs/porting.md's "after" bridge runs as written, against a small Acme CRM on loopback."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

from aiohttp import web

from integration_bridge import Adapter, Settings, create_app
from tests.support import API_KEY, headers_with

DOC = Path(__file__).resolve().parents[2] / "docs" / "porting.md"


def _after_bridge() -> type[Adapter]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    module = types.ModuleType("acme")
    exec(compile(blocks[-1], str(DOC), "exec"), module.__dict__)
    bridge: type[Adapter] = module.AcmeBridge
    return bridge


async def test_the_ported_bridge_answers_like_the_original(
    aiohttp_client: Any, aiohttp_server: Any
) -> None:
    async def people(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        person = {"id": 7, "first_name": "Ada", "last_name": "L", "phone": "0211 123456"}
        return web.json_response({"people": [person]})

    async def me(request: web.Request) -> web.Response:
        return web.json_response({"account_id": 4711})

    crm = web.Application()
    crm.router.add_get("/api/people", people)
    crm.router.add_get("/api/me", me)
    server = await aiohttp_server(crm)
    api_url = str(server.make_url("")).rstrip("/")
    headers = headers_with(api_url=api_url)
    client = await aiohttp_client(create_app(_after_bridge()(), settings=Settings()))
    contacts = await (await client.get("/contacts", headers=headers)).json()
    assert [(c["id"], c["name"], c["contactUrl"]) for c in contacts] == [
        ("7", "Ada L", f"{api_url}/people/7")
    ]
    assert contacts[0]["phoneNumbers"][0]["e164"] == "+49211123456"
    assert await (await client.get("/account/id", headers=headers)).json() == "4711"
    missing = headers_with(api_url=None)
    response = await client.get("/account/id", headers=missing)
    assert response.status == 500
