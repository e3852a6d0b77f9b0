"""Cache isolation: keyless callers never share a list; reserved key prefixes are refused."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import Adapter, Config, ContactTemplate
from integration_bridge.appkeys import STORAGE
from integration_bridge.cache.storage import Blob
from tests.support import USER_HEADERS, ClientFactory


class ByUrl(Adapter):
    """A bridge that authenticates by URL: the list depends on ``x-provider-url``."""

    def __init__(self) -> None:
        self.fetches = 0
        self.created = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        return [{"id": config.api_url, "phoneNumbers": []}]

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.created += 1
        return {"id": "new", **contact.to_wire()}


def _keyless(url: str) -> dict[str, str]:
    return {"x-user-id": url, "x-provider-url": url}


async def test_keyless_callers_never_share_a_list(make_client: ClientFactory) -> None:
    adapter = ByUrl()
    client = await make_client(adapter)
    for _ in range(2):
        for who in ("https://alice.crm", "https://bob.crm"):
            response = await client.get("/contacts", headers=_keyless(who))
            assert response.status == 200
            assert [c["id"] for c in await response.json()] == [who]
    assert adapter.fetches == 4  # fetched every time, nothing cached
    storage = client.app[STORAGE]
    assert await storage.get("") is None
    assert await storage.get("cache-state:") is None
    # A keyless write does not seed or edit anything either.
    response = await client.post(
        "/contacts", json={"phoneNumbers": []}, headers=_keyless("https://alice.crm")
    )
    assert response.status == 200
    assert await storage.get("") is None


@pytest.mark.parametrize("prefix", ["cache-state:", "AUTH:", "AUTH:test-bridge:"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/contacts"), ("POST", "/contacts"), ("POST", "/contacts/stream"),
     ("GET", "/account/id")],
)  # fmt: skip
async def test_reserved_key_prefixes_are_400(
    make_client: ClientFactory, prefix: str, method: str, path: str
) -> None:
    adapter = ByUrl()
    client = await make_client(adapter)
    storage = client.app[STORAGE]
    victim = USER_HEADERS["x-provider-key"]
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 200
    state_before = await storage.get(f"cache-state:{victim}")
    assert state_before is not None
    response = await client.request(
        method,
        path,
        json={"phoneNumbers": []},
        headers={**USER_HEADERS, "x-provider-key": f"{prefix}{victim}"},
    )
    assert response.status == 400
    assert "reserved prefix" in await response.text()
    assert adapter.fetches == 1 and adapter.created == 0
    state_after = await storage.get(f"cache-state:{victim}")
    assert state_after is not None and state_after.json == state_before.json
    assert await storage.get(f"cache-state:cache-state:{victim}") is None


async def test_the_cache_itself_refuses_reserved_keys(make_client: ClientFactory) -> None:
    """Also for callers that reach the cache without the HTTP layer."""
    from integration_bridge.appkeys import CONTACT_CACHE
    from integration_bridge.errors import ServerError

    client = await make_client(ByUrl())
    cache = client.app[CONTACT_CACHE]
    await client.app[STORAGE].set("cache-state:victim", Blob.of({"state": "CACHED"}))
    with pytest.raises(ServerError) as info:
        await cache.get(Config(api_key="cache-state:victim"))
    assert info.value.status == 400
    await cache.add_contact(Config(api_key="cache-state:victim"), {"id": "x"})
    stored = await client.app[STORAGE].get("cache-state:victim")
    assert stored is not None and stored.value() == {"state": "CACHED"}
