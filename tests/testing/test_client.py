"""The test kit's client and headers: `bridge_client`, `user_headers`."""

from __future__ import annotations

from typing import Any

from integration_bridge import Adapter, Config
from integration_bridge.testing import (
    API_KEY_HEADER,
    API_URL_HEADER,
    LOCALE_HEADER,
    USER_ID_HEADER,
    bridge_client,
    user_headers,
)


class Bridge(Adapter):
    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        return [{"id": config.user_id, "phoneNumbers": []}]


async def test_bridge_client_serves_the_whole_api(aiohttp_client: Any) -> None:
    client = await bridge_client(aiohttp_client, Bridge(), cache_disabled=True)
    response = await client.get("/contacts", headers=user_headers(user_id="ada"))
    assert response.status == 200
    assert [c["id"] for c in await response.json()] == ["ada"]
    assert (await client.get("/account/id", headers=user_headers())).status == 501


def test_user_headers() -> None:
    assert user_headers(api_url="https://crm") == {
        "x-user-id": "test-user",
        "x-provider-key": "test-provider-key",
        "x-provider-locale": "de-DE",
        "x-provider-url": "https://crm",
    }
    assert set(user_headers(api_url="https://crm")) == {
        USER_ID_HEADER,
        API_KEY_HEADER,
        API_URL_HEADER,
        LOCALE_HEADER,
    }


def test_user_headers_overrides_and_omissions() -> None:
    assert user_headers(api_key="k2", locale="en-US") == {
        "x-user-id": "test-user",
        "x-provider-key": "k2",
        "x-provider-locale": "en-US",
    }
    assert user_headers(user_id=None, api_key=None, locale=None) == {}
    assert user_headers(api_key="") == {
        "x-user-id": "test-user",
        "x-provider-key": "",
        "x-provider-locale": "de-DE",
    }


class Recording(Adapter):
    def __init__(self) -> None:
        self.configs: list[Config] = []

    async def get_account_id(self, config: Config) -> str:
        self.configs.append(config)
        return "account"


async def test_user_headers_become_the_adapters_config(aiohttp_client: Any) -> None:
    adapter = Recording()
    client = await bridge_client(aiohttp_client, adapter)
    for headers in (
        user_headers(user_id="ada", api_key="k2", api_url="https://crm", locale="en-US"),
        user_headers(user_id=None, api_key=None, locale=None),
    ):
        assert (await client.get("/account/id", headers=headers)).status == 200
    assert [(c.user_id, c.api_key, c.api_url, c.locale) for c in adapter.configs] == [
        ("ada", "k2", "https://crm", "en-US"),
        ("", "", "", "de-DE"),
    ]
