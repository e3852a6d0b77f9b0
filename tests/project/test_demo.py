"""The demo bridge end to end: HTTP helpers against the fake CRM, OAuth2, streaming."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from examples.demo_bridge import DemoBridge
from integration_bridge import Settings, create_app
from integration_bridge.testing import oauth2_login
from tests.support import USER_HEADERS, headers_with


async def demo(aiohttp_client: Any) -> tuple[TestClient[Any, Any], DemoBridge]:
    bridge = DemoBridge()
    client = await aiohttp_client(create_app(bridge, settings=Settings()))
    return client, bridge


async def test_contacts_are_paged_through_throttling_and_failures(aiohttp_client: Any) -> None:
    client, bridge = await demo(aiohttp_client)
    bridge.page_size = 20  # 15 pages: the fake CRM throttles every 7th request, fails every 11th
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 200
    contacts = await response.json()
    assert len(contacts) == 300
    assert len({c["id"] for c in contacts}) == 300
    assert all(
        n["type"] in {"STANDARD", "DIRECT_DIAL"} for c in contacts for n in c["phoneNumbers"]
    )
    assert bridge._crm is not None and bridge._crm.requests > 15  # 15 pages plus retries


async def test_single_contact_create_and_not_found(aiohttp_client: Any) -> None:
    client, _ = await demo(aiohttp_client)
    response = await client.get("/contacts/c1?type=contacts", headers=USER_HEADERS)
    assert (await response.json())["id"] == "c1"
    response = await client.get("/contacts/nope?type=contacts", headers=USER_HEADERS)
    assert response.status == 452
    assert await response.text() == "entity/not-found"
    new = {"firstName": "Ada", "phoneNumbers": [{"label": "WORK", "phoneNumber": "+4921112345"}]}
    response = await client.post("/contacts", json=new, headers=USER_HEADERS)
    assert response.status == 200
    created = await response.json()
    response = await client.get(f"/contacts/{created['id']}?type=contacts", headers=USER_HEADERS)
    assert (await response.json())["firstName"] == "Ada"


async def test_invalid_token(aiohttp_client: Any) -> None:
    client, _ = await demo(aiohttp_client)
    response = await client.get("/validate-token", headers=headers_with(api_key="invalid"))
    assert response.status == 401
    response = await client.get("/validate-token", headers=USER_HEADERS)
    assert response.status == 200


async def test_oauth2_flow_against_the_fake_authorization_server(aiohttp_client: Any) -> None:
    client, _ = await demo(aiohttp_client)
    login = await oauth2_login(client)
    assert login.callback_path.startswith("/oauth2/token?")
    assert login.status == 200
    assert login.api_key.startswith("acc-")
    # The new key works against the CRM.
    response = await client.get("/validate-token", headers=headers_with(api_key=login.api_key))
    assert response.status == 200
    # Without the cookie the same kind of callback is refused as possible CSRF.
    forged = await oauth2_login(client, send_cookies=False)
    assert forged.status == 401


async def test_stream_goes_to_the_local_publisher(aiohttp_client: Any) -> None:
    client, _ = await demo(aiohttp_client)
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    assert isinstance((await response.json())["timestamp"], int)
