"""The contact routes and the contact cache behind GET /contacts."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from integration_bridge import (
    Adapter,
    Config,
    Contact,
    ContactTemplate,
    ContactUpdate,
    IntegrationEntityType,
    ServerError,
)
from integration_bridge.appkeys import STORAGE
from integration_bridge.cache.storage import Blob
from tests.support import API_KEY, USER_HEADERS, ClientFactory, headers_with, wire_contact

KEY = API_KEY


def contact(id: str, number: str = "+49 157 12345678", **fields: Any) -> dict[str, Any]:
    number_entry = {"label": "MOBILE", "phoneNumber": number}
    return wire_contact(
        id, firstName="Ada", lastName="Lovelace", phoneNumbers=[number_entry], **fields
    )


class ContactsAdapter(Adapter):
    def __init__(self, contacts: list[dict[str, Any]] | None = None) -> None:
        self.contacts = contacts if contacts is not None else [contact("1"), contact("2")]
        self.calls = 0
        self.delay = 0.0
        self.fail: Exception | None = None
        self.token: str | None = None
        self.token_fails = False
        self.received: list[Any] = []

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return list(self.contacts)

    async def get_contact(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> dict[str, Any]:
        self.received.append((id, type))
        return {**contact(id), "customField": "kept"}

    async def create_contact(self, config: Config, template: ContactTemplate) -> dict[str, Any]:
        self.received.append(template)
        return {**template.to_wire(), "id": "new"}

    async def update_contact(self, config: Config, id: str, update: ContactUpdate) -> Contact:
        self.received.append((id, update))
        return Contact.model_validate({**update.to_wire(), "id": id})

    async def delete_contact(self, config: Config, id: str) -> None:
        self.received.append(id)

    async def get_token(self, config: Config) -> str:
        if self.token_fails:
            raise ServerError(401, "refresh failed")
        if self.token is None:
            raise NotImplementedError
        return self.token


class TokenlessAdapter(ContactsAdapter):
    get_token = Adapter.get_token


async def get_contacts(client: TestClient[Any, Any], **changes: str) -> tuple[int, Any, Any]:
    """GET /contacts as `USER_HEADERS`' user, with `headers_with` changes."""
    response = await client.get("/contacts", headers=headers_with(**changes))
    return response.status, await response.json(), response.headers


async def test_get_contacts_sanitizes_and_caches(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    status, body, headers = await get_contacts(client)
    assert status == 200
    assert [c["id"] for c in body] == ["1", "2"]
    assert body[0]["name"] == "Ada Lovelace"
    assert body[0]["phoneNumbers"][0] == {
        "label": "MOBILE",
        "type": "STANDARD",
        "e164": "+4915712345678",
        "localized": "01571 2345678",
        "phoneNumber": "+4915712345678",
    }
    assert "X-Fetching-State" not in headers
    assert "X-Provider-Key" not in headers
    await get_contacts(client)
    assert adapter.calls == 1  # served from the cache


async def test_cached_list_is_stored_under_the_api_key(make_client: ClientFactory) -> None:
    client = await make_client(TokenlessAdapter())
    _, body, _ = await get_contacts(client)
    storage = client.app[STORAGE]
    stored = await storage.get(KEY)
    assert stored is not None and orjson.loads(stored.json) == body
    state = await storage.get(f"cache-state:{KEY}")
    assert state is not None
    state_value = orjson.loads(state.json)
    assert state_value["state"] == "CACHED"
    assert abs(state_value["timestamp"] - time.time() * 1000) < 5000


async def test_gzip_clients_get_the_same_list(make_client: ClientFactory) -> None:
    client = await make_client(TokenlessAdapter())
    _, plain, _ = await get_contacts(client)
    response = await client.get(
        "/contacts", headers={**USER_HEADERS, "Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(await response.read())) == plain


async def test_stale_list_is_served_and_refreshed_in_background(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    await get_contacts(client)
    storage = client.app[STORAGE]
    old = int(time.time() * 1000) - 3_600_000
    await storage.set(f"cache-state:{KEY}", Blob.of({"state": "CACHED", "timestamp": old}))
    adapter.contacts = [contact("3")]
    _, body, _ = await get_contacts(client)
    assert [c["id"] for c in body] == ["1", "2"]  # stale, served at once
    for _ in range(100):
        await asyncio.sleep(0.01)
        if adapter.calls == 2:
            break
    await asyncio.sleep(0.05)
    _, body, _ = await get_contacts(client)
    assert [c["id"] for c in body] == ["3"]
    assert adapter.calls == 2


async def test_fresh_list_is_not_refreshed(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    for _ in range(3):
        await get_contacts(client)
    await asyncio.sleep(0.05)
    assert adapter.calls == 1


async def test_fetching_state_serves_old_list_or_pending(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    storage = client.app[STORAGE]
    fetching = Blob.of({"state": "FETCHING", "timestamp": int(time.time() * 1000)})
    await storage.set(f"cache-state:{KEY}", fetching)
    status, body, headers = await get_contacts(client)
    assert (status, body, headers["X-Fetching-State"]) == (200, [], "pending")
    assert adapter.calls == 0  # someone else is fetching
    await storage.set(KEY, Blob.of([contact("9")]))
    _, body, headers = await get_contacts(client)
    assert [c["id"] for c in body] == ["9"]
    assert "X-Fetching-State" not in headers


async def test_slow_fetch_answers_pending_then_fills_the_cache(
    make_client: ClientFactory,
) -> None:
    adapter = TokenlessAdapter()
    adapter.delay = 0.3
    client = await make_client(adapter, contact_fetch_timeout=0.05)
    status, body, headers = await get_contacts(client)
    assert (status, body, headers.get("X-Fetching-State")) == (200, [], "pending")
    await asyncio.sleep(0.4)
    _, body, headers = await get_contacts(client)
    assert [c["id"] for c in body] == ["1", "2"]
    assert "X-Fetching-State" not in headers
    assert adapter.calls == 1


async def test_concurrent_requests_share_one_fetch(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    adapter.delay = 0.1
    client = await make_client(adapter)
    results = await asyncio.gather(*(get_contacts(client) for _ in range(10)))
    assert all([c["id"] for c in body] == ["1", "2"] for _, body, _ in results)
    assert adapter.calls == 1


async def test_failed_fetch_clears_state_and_fails(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    adapter.fail = ServerError(502, "CRM down")
    client = await make_client(adapter)
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 502
    assert await response.text() == "CRM down"
    assert await client.app[STORAGE].get(f"cache-state:{KEY}") is None
    adapter.fail = None
    status, body, _ = await get_contacts(client)
    assert status == 200 and len(body) == 2


async def test_invalid_contacts_answer_500(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter([{"id": "1"}])
    client = await make_client(adapter)
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 500
    assert (await response.text()).startswith("Invalid contacts received: ")
    assert await client.app[STORAGE].get(f"cache-state:{KEY}") is None


async def test_unknown_fields_are_dropped_from_lists(make_client: ClientFactory) -> None:
    client = await make_client(TokenlessAdapter([contact("1", secret="x")]))
    _, body, _ = await get_contacts(client)
    assert "secret" not in body[0]


async def test_cache_disabled_fetches_every_time(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter, cache_disabled=True)
    for _ in range(3):
        status, body, _ = await get_contacts(client)
        assert status == 200 and len(body) == 2
    assert adapter.calls == 3


async def test_lists_are_cached_per_api_key(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    await get_contacts(client)
    await get_contacts(client, api_key="other-key")
    assert adapter.calls == 2


async def test_provider_key_header_after_get_contacts(make_client: ClientFactory) -> None:
    adapter = ContactsAdapter()
    adapter.token = "refreshed-key"
    client = await make_client(adapter)
    _, _, headers = await get_contacts(client)
    assert headers["X-Provider-Key"] == "refreshed-key"


async def test_failing_get_token_does_not_fail_get_contacts(make_client: ClientFactory) -> None:
    adapter = ContactsAdapter()
    adapter.token_fails = True
    client = await make_client(adapter)
    status, body, headers = await get_contacts(client)
    assert status == 200 and len(body) == 2
    assert "X-Provider-Key" not in headers


async def test_failing_get_token_fails_write_routes(make_client: ClientFactory) -> None:
    adapter = ContactsAdapter()
    adapter.token_fails = True
    client = await make_client(adapter)
    response = await client.delete("/contacts/1", headers=USER_HEADERS)
    assert response.status == 401


async def test_get_single_contact_is_sanitized_not_validated(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    response = await client.get("/contacts/7?type=contacts", headers=USER_HEADERS)
    assert response.status == 200
    body = await response.json()
    assert body["customField"] == "kept"
    assert body["name"] == "Ada Lovelace"
    assert body["phoneNumbers"][0]["e164"] == "+4915712345678"
    assert adapter.received == [("7", IntegrationEntityType.CONTACTS)]


@pytest.mark.parametrize("query", ["", "?type=", "?type=people"])
async def test_get_single_contact_needs_a_known_type(
    make_client: ClientFactory, query: str
) -> None:
    client = await make_client(TokenlessAdapter())
    response = await client.get(f"/contacts/7{query}", headers=USER_HEADERS)
    assert response.status == 400
    assert await response.text() == "Missing contact type query parameter"


async def test_create_contact_appends_to_the_cached_list(make_client: ClientFactory) -> None:
    adapter = ContactsAdapter()
    adapter.token = "new-key"
    client = await make_client(adapter)
    await get_contacts(client)
    new = {"firstName": "Grace", "phoneNumbers": [{"label": "WORK", "phoneNumber": "12"}]}
    response = await client.post("/contacts", json=new, headers=USER_HEADERS)
    assert response.status == 200
    assert response.headers["X-Provider-Key"] == "new-key"
    body = await response.json()
    assert body["id"] == "new" and body["name"] == "Grace"
    assert body["phoneNumbers"][0]["type"] == "DIRECT_DIAL"
    _, listed, _ = await get_contacts(client)
    assert [c["id"] for c in listed] == ["1", "2", "new"]
    assert listed[-1] == body


async def test_create_contact_does_not_seed_an_empty_cache(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    new: dict[str, list[str]] = {"phoneNumbers": []}
    response = await client.post("/contacts", json=new, headers=USER_HEADERS)
    assert response.status == 200
    _, listed, _ = await get_contacts(client)
    assert [c["id"] for c in listed] == ["1", "2"]  # the full list, fetched


@pytest.mark.parametrize(
    "body",
    [{"firstName": "No numbers"}, {"phoneNumbers": "nope"}, {"phoneNumbers": [{"label": 1}]}],
)
async def test_create_contact_rejects_invalid_bodies(
    make_client: ClientFactory, body: dict[str, Any]
) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    response = await client.post("/contacts", json=body, headers=USER_HEADERS)
    assert response.status == 400
    assert (await response.text()).startswith("Invalid contactCreate received: ")
    assert adapter.received == []


async def test_create_contact_validates_what_the_bridge_returns(
    make_client: ClientFactory,
) -> None:
    class Broken(TokenlessAdapter):
        async def create_contact(self, config: Config, template: ContactTemplate) -> Any:
            return {"name": "no id"}

    client = await make_client(Broken())
    response = await client.post("/contacts", json={"phoneNumbers": []}, headers=USER_HEADERS)
    assert response.status == 500
    assert (await response.text()).startswith("Invalid contact returned from bridge: ")


async def test_update_contact_replaces_the_cached_entry(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    await get_contacts(client)
    update = {"id": "2", "firstName": "Grace", "lastName": "Hopper", "phoneNumbers": []}
    response = await client.put("/contacts/2", json=update, headers=USER_HEADERS)
    assert response.status == 200
    assert (await response.json())["name"] == "Grace Hopper"
    assert adapter.received[0][0] == "2"
    _, listed, _ = await get_contacts(client)
    assert [c.get("name") for c in listed] == ["Ada Lovelace", "Grace Hopper"]


async def test_update_contact_rejects_invalid_bodies(make_client: ClientFactory) -> None:
    client = await make_client(TokenlessAdapter())
    response = await client.put("/contacts/2", json={"id": "2"}, headers=USER_HEADERS)
    assert response.status == 400
    assert (await response.text()).startswith("Invalid contactUpdate received: ")


async def test_delete_contact_removes_the_cached_entry(make_client: ClientFactory) -> None:
    adapter = TokenlessAdapter()
    client = await make_client(adapter)
    await get_contacts(client)
    response = await client.delete("/contacts/1", headers=USER_HEADERS)
    assert response.status == 200
    assert await response.read() == b""
    _, listed, _ = await get_contacts(client)
    assert [c["id"] for c in listed] == ["2"]


async def test_storage_outage_warnings_are_rate_limited(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from integration_bridge.cache.storage import StorageUnavailable

    client = await make_client(TokenlessAdapter())
    storage = client.app[STORAGE]

    async def unavailable(*args: Any, **kwargs: Any) -> None:
        raise StorageUnavailable("down")

    storage.set = unavailable
    with caplog.at_level("WARNING"):
        for n in range(5):
            response = await client.get("/contacts", headers=headers_with(api_key=f"k{n}"))
            assert response.status == 200
    skipped = [r for r in caplog.records if "Skipped" in r.getMessage()]
    assert len(skipped) == 1
