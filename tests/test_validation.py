"""Request input the adapter never sees: path ids that would change a CRM URL (refused, or
quoted by the helpers) and overlong strings in bodies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from examples.demo_bridge import DemoBridge
from integration_bridge import (
    Adapter,
    Config,
    IntegrationEntityType,
    ServerError,
    Settings,
    create_app,
)
from integration_bridge import phone as phone_module
from integration_bridge.validation import is_valid_path_id
from tests.support import API_KEY, BOUNDED, USER_HEADERS, ClientFactory, Writes


class Recording(Adapter):
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.ids.append(id)
        return {"id": id, "phoneNumbers": []}

    async def delete_contact(self, config: Config, id: str) -> None:
        self.ids.append(id)

    async def get_entity(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.ids.append(f"{type}/{id}")
        return None

    async def get_task(self, config: Config, id: str) -> Any:
        self.ids.append(id)
        return {"id": id}

    async def update_call_event(self, config: Config, id: str, event: Any) -> None:
        self.ids.append(id)

    async def get_entities_for_contact(self, config: Config, contact_id: str) -> Any:
        self.ids.append(contact_id)
        return []


BAD_IDS = ["..%2F..%2Foauth%2Fauthorize", "c6%3Fx=1", "c6%23frag", "a%5Cb", "a%0Db", "a%00",
           "a%C2%85b", "a%2Fb", "%2F", "a%09b"]  # fmt: skip

ROUTES = [
    ("GET", "/contacts/{}?type=contacts"),
    ("DELETE", "/contacts/{}"),
    ("GET", "/contacts/{}/entities"),
    ("GET", "/entity/contacts/{}"),
    ("GET", "/entity/{}/c1"),
    ("GET", "/tasks/{}"),
    ("PUT", "/events/calls/{}"),
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(("method", "template"), ROUTES)
async def test_bad_path_ids_are_400_and_never_reach_the_adapter(
    make_client: ClientFactory, method: str, template: str, bad_id: str
) -> None:
    adapter = Recording()
    client = await make_client(adapter)
    response = await client.request(method, template.format(bad_id), headers=USER_HEADERS)
    assert response.status == 400
    assert await response.text() == "Invalid id"
    assert adapter.ids == []


@pytest.mark.parametrize("dots", ["..", ".", "%2E%2E", "%2E", ".%2E"])
@pytest.mark.parametrize(("method", "template"), ROUTES)
async def test_dot_segments_never_reach_the_adapter(
    make_client: ClientFactory, method: str, template: str, dots: str
) -> None:
    """URL normalization resolves dot segments before routing; whatever matches then is no dot."""
    adapter = Recording()
    client = await make_client(adapter)
    response = await client.request(method, template.format(dots), headers=USER_HEADERS)
    assert response.status < 500 or response.status == 501
    assert all(is_valid_path_id(seen.split("/")[-1]) for seen in adapter.ids)


async def test_ordinary_ids_still_work(make_client: ClientFactory) -> None:
    adapter = Recording()
    client = await make_client(adapter)
    for id in ("c6", "0031t00000Ab3xQAAR", "a.b", "...", "über", "a b", "x%25y"):
        response = await client.get(
            f"/contacts/{quote(id, safe='%')}?type=contacts", headers=USER_HEADERS
        )
        assert response.status == 200, id
    assert adapter.ids == ["c6", "0031t00000Ab3xQAAR", "a.b", "...", "über", "a b", "x%y"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("c6", True), ("...", True), ("", False), (".", False), ("..", False), ("a/b", False),
     ("a\\b", False), ("a?b", False), ("a#b", False), ("a\tb", False), ("a\x7fb", False),
     ("a\x85b", False), ("a b", True)],
)  # fmt: skip
def test_is_valid_path_id(value: str, valid: bool) -> None:
    assert is_valid_path_id(value) is valid


class ThirdHost:
    """Where a successful SSRF would deliver the authorization code."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def app(self) -> web.Application:
        async def anything(request: web.Request) -> web.Response:
            self.hits.append(str(request.rel_url))
            return web.Response(text="thanks")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", anything)
        return app


async def test_ssrf_through_a_contact_id_is_refused(aiohttp_client: Any) -> None:
    third = ThirdHost()
    evil = TestServer(third.app())
    await evil.start_server()
    bridge = DemoBridge()
    client = await aiohttp_client(create_app(bridge, settings=Settings()))
    try:
        target = quote(
            "../../oauth/authorize?client_id=demo-client&response_type=code"
            f"&redirect_uri={evil.make_url('/steal')}",
            safe="",
        )
        response = await client.get(f"/contacts/{target}?type=contacts", headers=USER_HEADERS)
        assert response.status == 400
        assert await response.text() == "Invalid id"
        # Even if an adapter is handed such an id, the demo builds its URL safely:
        # the CRM sees one odd contact id (404), no authorize call, no redirect.
        config = Config(user_id="u", api_key="token-1")
        with pytest.raises(ServerError) as info:
            await bridge.get_contact(
                config, "../../oauth/authorize?x=1", IntegrationEntityType.CONTACTS
            )
        assert info.value.status == 452  # entity/not-found
        assert third.hits == []
        assert bridge._crm is not None and bridge._crm.codes == {}
    finally:
        await evil.close()


async def test_delete_with_a_query_in_the_id_deletes_nothing(aiohttp_client: Any) -> None:
    bridge = DemoBridge()
    client = await aiohttp_client(create_app(bridge, settings=Settings()))
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert any(c["id"] == "c6" for c in await response.json())
    response = await client.delete("/contacts/c6%3Fx=1", headers=USER_HEADERS)
    assert response.status == 400
    assert bridge._crm is not None
    assert "c6" in bridge._crm.books[API_KEY]
    # The adapter path quotes the id: the CRM is asked about "c6?x=1", which does not exist.
    with pytest.raises(ServerError):
        await bridge.delete_contact(Config(api_key=API_KEY), "c6?x=1")
    assert "c6" in bridge._crm.books[API_KEY]
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert any(c["id"] == "c6" for c in await response.json())


# --- Overlong strings in request bodies: refused before the adapter, never memoized.


def _contact(number: str = "+49 157 12345678", **fields: Any) -> dict[str, Any]:
    return {"phoneNumbers": [{"label": "WORK", "phoneNumber": number}], **fields}


async def test_megabyte_phone_numbers_are_refused_and_not_memoized(
    make_client: ClientFactory,
) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    before = phone_module._MEMO.size
    for index in range(20):
        huge = f"+49{index}" + "1" * 500_000
        response = await client.put(
            f"/contacts/c{index}", json=_contact(huge), headers=USER_HEADERS
        )
        assert response.status == 400
        assert "longer than 64 characters" in await response.text()
    assert adapter.calls == 0
    assert phone_module._MEMO.size <= before + 20 * 1000  # nothing of the numbers kept


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (_contact("1" * 64), True),
        (_contact("1" * 65), False),
        (_contact(name="n" * 10_000), True),
        (_contact(name="n" * 10_001), False),
        (_contact(email="e" * 20_000), False),
        ({**_contact(), "unknownField": ["x" * 10_001]}, False),  # unknown fields count too
        ({**_contact(), "k" * 10_001: 1}, False),
    ],
)
async def test_request_body_strings_are_bounded(
    make_client: ClientFactory, body: dict[str, Any], ok: bool
) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    response = await client.post("/contacts", json=body, headers=USER_HEADERS)
    assert response.status == (200 if ok else 400), await response.text()
    assert adapter.calls == (1 if ok else 0)


async def test_call_event_phone_numbers_are_bounded(make_client: ClientFactory) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    event = {
        "id": "call-1",
        "startTime": 1,
        "direction": "IN",
        "participants": [{"type": "remote", "phoneNumber": "+49" + "1" * 100}],
        "note": "",
        "state": "CONNECTED",
    }
    response = await client.post("/events/calls", json=event, headers=USER_HEADERS)
    assert response.status == 400
    assert "participants.0.phoneNumber" in await response.text()
    assert adapter.calls == 0


# --- Hypothesis properties of path ids (SPEC 3.5)


def id_is_acceptable(value: str) -> bool:
    """SPEC 3.5, written out: not empty, `.` or `..`; no `/ \\ ? #`; no control character."""
    if value in {"", ".", ".."}:
        return False
    return not any(
        char in "/\\?#" or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in value
    )


class RecordingBridge(Adapter):
    """Records the ids its single-contact routes are handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.seen.append(id)
        return {"id": id, "phoneNumbers": []}

    async def delete_contact(self, config: Config, id: str) -> None:
        self.seen.append(id)

    async def get_entity(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.seen.append(f"{type}:{id}")
        return None

    async def get_entities_for_contact(self, config: Config, contact_id: str) -> Any:
        self.seen.append(contact_id)
        return []

    async def get_task(self, config: Config, id: str) -> Any:
        self.seen.append(id)
        return {"id": id, "content": "", "createdAt": 0, "dueAt": 0, "title": ""}


IDS = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="./\\?#%\x00\x09\x0a\x0d\x7f\x85 ab", max_size=6),
    st.sampled_from(["..", ".", "...", "a/../b", "%2F", "%00", "c6?x=1"]),
)


@BOUNDED
@given(id=IDS, delete=st.booleans())
async def test_path_ids_reach_the_adapter_exactly_or_are_refused(
    make_client: ClientFactory, id: str, delete: bool
) -> None:
    adapter = RecordingBridge()
    client = await make_client(adapter)
    try:
        encoded = quote(id, safe="")
        if delete:
            response = await client.delete(f"/contacts/{encoded}", headers=USER_HEADERS)
        else:
            response = await client.get(f"/contacts/{encoded}?type=contacts", headers=USER_HEADERS)
        body = await response.text()
    finally:
        await client.close()

    assert all(id_is_acceptable(seen) for seen in adapter.seen)
    if id in {"", ".", ".."}:
        return  # the URL itself changes (dot segments, empty segment): another route answers
    if id_is_acceptable(id):
        assert response.status == 200, (id, body)
        assert adapter.seen == [id]
    else:
        assert (response.status, body) == (400, "Invalid id")
        assert adapter.seen == []


async def test_ids_with_braces_reach_the_adapter(make_client: ClientFactory) -> None:
    """Found by the property above: aiohttp's default ``{id}`` refuses ``{`` and ``}`` (404)."""
    adapter = RecordingBridge()
    client = await make_client(adapter)
    for method, path in [
        ("GET", "/contacts/%7Ba%7D?type=contacts"),
        ("DELETE", "/contacts/a%7B"),
        ("GET", "/contacts/%7D/entities"),
        ("GET", "/entity/%7Bt%7D/%7Bx%7D"),
        ("GET", "/tasks/%7B%7D"),
    ]:
        response = await client.request(method, path, headers=USER_HEADERS)
        assert response.status == 200, path
    assert adapter.seen == ["{a}", "a{", "}", "{t}:{x}", "{}"]
