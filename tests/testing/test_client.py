"""The test kit bridge authors use."""

from __future__ import annotations

from typing import Any

from integration_bridge import Adapter, Config
from integration_bridge.testing import bridge_client, user_headers


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
