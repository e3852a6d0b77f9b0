"""The contact cache (SPEC 5): state-entry timing, isolation of callers, key properties."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_bridge import Adapter, Config, ContactTemplate
from integration_bridge.appkeys import STORAGE
from integration_bridge.cache.contacts import cache_state_key
from integration_bridge.cache.storage import Blob
from integration_bridge.testing import bridge_client, user_headers
from tests.support import API_KEY, BOUNDED, USER_HEADERS, ClientFactory, headers_with, wire_contact

KEY = "cache-rules-key-0123456789"
HEADERS = user_headers(api_key=KEY)
CACHED = [{"id": "1", "name": "Ada", "phoneNumbers": []}]


class Counting(Adapter):
    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        return [{"id": "2", "name": "Grace", "phoneNumbers": []}]


async def _seed(client: Any, contacts: list[dict[str, Any]], state: str, age_ms: int) -> None:
    storage = client.app[STORAGE]
    await storage.set(KEY, Blob.of(contacts))
    stamp = int(time.time() * 1000) - age_ms
    await storage.set(cache_state_key(KEY), Blob.of({"state": state, "timestamp": stamp}))


async def test_a_list_younger_than_the_refresh_interval_is_not_refetched(
    aiohttp_client: Any,
) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge, cache_refresh_interval=3)
    await _seed(client, CACHED, "CACHED", age_ms=2_000)  # 2 s < 3 s: fresh
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]
    await asyncio.sleep(0.1)
    assert bridge.fetches == 0


async def test_a_list_older_than_the_refresh_interval_is_refreshed_in_the_background(
    aiohttp_client: Any,
) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge, cache_refresh_interval=3)
    await _seed(client, CACHED, "CACHED", age_ms=3_500)
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]  # stale, served at once
    for _ in range(50):
        if bridge.fetches:
            break
        await asyncio.sleep(0.02)
    assert bridge.fetches == 1


async def test_a_state_that_does_not_decompress_is_stale_not_an_error() -> None:
    """A store that hands out a gzip-only state that is not gzip: the list is served stale."""
    from integration_bridge.cache.contacts import ContactCache
    from integration_bridge.cache.storage import MemoryStorage

    broken = Blob(gzip_bytes=b"\x1f\x8b not gzip")

    class BrokenState(MemoryStorage):
        def get_many_now(self, *keys: str) -> list[Blob | None]:
            found = super().get_many_now(*keys)
            return [
                broken if key.startswith("cache-state:") else blob
                for key, blob in zip(keys, found, strict=True)
            ]

    async def fetch(config: Config) -> list[dict[str, Any]]:
        return CACHED

    storage = BrokenState()
    await storage.set(KEY, Blob.of(CACHED))
    cache = ContactCache(storage, fetch)
    config = Config(api_key=KEY)
    assert cache.fresh(config) is None  # not current: ask `get`
    result = await cache.get(config)
    assert result.outcome == "stale"
    assert result.blob is not None and result.blob.value() == CACHED


async def test_an_empty_list_during_a_refresh_is_pending_not_final(aiohttp_client: Any) -> None:
    bridge = Counting()
    client = await bridge_client(aiohttp_client, bridge)
    await _seed(client, [], "FETCHING", age_ms=0)  # another replica is fetching
    response = await client.get("/contacts", headers=HEADERS)
    assert response.status == 200
    assert await response.json() == []
    assert response.headers.get("X-Fetching-State") == "pending"
    assert bridge.fetches == 0


async def test_a_non_empty_list_during_a_refresh_is_served(aiohttp_client: Any) -> None:
    client = await bridge_client(aiohttp_client, Counting())
    await _seed(client, CACHED, "FETCHING", age_ms=0)
    response = await client.get("/contacts", headers=HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]
    assert "X-Fetching-State" not in response.headers


# --- Cache isolation: keyless callers never share a list; reserved key prefixes are refused.


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
    return user_headers(user_id=url, api_key=None, api_url=url)


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
    victim = API_KEY
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 200
    state_before = await storage.get(f"cache-state:{victim}")
    assert state_before is not None
    response = await client.request(
        method,
        path,
        json={"phoneNumbers": []},
        headers=headers_with(api_key=f"{prefix}{victim}"),
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


# --- Hypothesis properties of the contact cache's keys, through GET /contacts (SPEC 3.5, 5).
#
# Whatever provider keys callers send, in whatever order: a key with a reserved
# storage prefix is refused with 400, every other caller gets exactly the list
# the adapter made for its own key, and callers without a key never share a list.


FEWER = settings(BOUNDED, max_examples=60)
"""Each example starts a bridge: fewer of them than the other property tests."""

RESERVED = ("cache-state:", "AUTH:")
"""SPEC 3.5: prefixes of the cache's own storage entries."""

# Header-safe: printable ASCII, no surrounding spaces (HTTP strips them).
TOKEN = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
)


@st.composite
def key_sequences(draw: st.DrawFn) -> list[str]:
    """Provider keys that collide with each other's storage keys as much as possible."""
    base = draw(TOKEN)
    related = st.sampled_from(
        [
            base,
            f"cache-state:{base}",
            f"AUTH:{base}",
            f"AUTH:bridge:{base}",
            f"{base}:{base}",
            f"cache-state:cache-state:{base}",
            f"auth:{base}",
            f"Cache-State:{base}",
            f"x{base}",
        ]
    )
    return draw(st.lists(related | TOKEN, min_size=2, max_size=6))


class KeyEchoBridge(Adapter):
    """A list that names the caller it was made for, and a count of fetches."""

    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        owner = f"{config.api_key}|{config.user_id}|{config.api_url}"
        return [{"id": owner, "phoneNumbers": []}]


def headers(key: str | None, user: str = "u", url: str = "") -> dict[str, str]:
    return user_headers(user_id=user, api_key=key, api_url=url)


@FEWER
@given(keys=key_sequences())
async def test_every_key_gets_its_own_list_or_a_400(
    make_client: ClientFactory, keys: list[str]
) -> None:
    client = await make_client(KeyEchoBridge())
    try:
        for key in keys * 2:  # the second round reads what the first one cached
            response = await client.get("/contacts", headers=headers(key))
            if key.startswith(RESERVED):
                assert response.status == 400, key
            else:
                assert response.status == 200, key
                assert await response.json() == [wire_contact(f"{key}|u|")]
    finally:
        await client.close()


@FEWER
@given(callers=st.lists(st.tuples(TOKEN, TOKEN), min_size=2, max_size=5, unique=True))
async def test_any_keyless_callers_never_share_a_list(
    make_client: ClientFactory, callers: list[tuple[str, str]]
) -> None:
    bridge = KeyEchoBridge()
    client = await make_client(bridge)
    try:
        for user, url in callers * 2:
            for key in (None, ""):
                response = await client.get("/contacts", headers=headers(key, user, url))
                assert response.status == 200
                [contact] = await response.json()
                assert contact["id"] == f"|{user}|{url}"
        assert bridge.fetches == len(callers) * 4  # nothing was cached
    finally:
        await client.close()
