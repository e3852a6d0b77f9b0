"""Wire behaviour a bridge moved from the original finds unchanged (SPEC 12)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from integration_bridge import (
    Adapter,
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    ContactTemplate,
    ContactUpdate,
    IntegrationEntityType,
    create_app,
)
from tests.support import USER_HEADERS, ClientFactory, headers_with, wire_contact

CONTACT = wire_contact(
    "c-1", name="Ada", phoneNumbers=[{"label": "WORK", "phoneNumber": "+49 30 1234567"}]
)
CALL = {
    "id": "call-1",
    "startTime": 1_700_000_000_000,
    "endTime": 1_700_000_060_000,
    "direction": "IN",
    "participants": [{"type": "remote", "phoneNumber": "+4930123456", "crmLabel": "x"}],
    "note": "",
    "state": "CONNECTED",
    "customField": {"nested": [1, 2]},
}
ENTITY = {"id": "deal-1", "type": "deals", "source": "CRM"}


class ParityAdapter(Adapter):
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.account: Any = 12345
        self.logged: Any = [{**ENTITY, "logId": "log-1", "crmExtra": True}]
        self.contacts: list[dict[str, Any]] = [CONTACT]
        self.fetch_delay = 0.0
        self.returned_id: str | None = None

    async def get_account_id(self, config: Config) -> Any:
        return self.account

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        await asyncio.sleep(self.fetch_delay)
        return self.contacts

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.received.append(id)
        return {**CONTACT, "id": id}

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.received.append(contact)
        return {**CONTACT, "id": "c-new"}

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Any:
        self.received.append((id, contact))
        return {**CONTACT, "id": self.returned_id or id, "name": "Updated"}

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> Any:
        self.received.append(event)
        return self.logged

    async def create_call_log_for_phone_number(self, config: Config, event: CallEvent) -> Any:
        self.received.append(event)
        return self.logged[0] if isinstance(self.logged, list) else self.logged


# -- PUT /contacts/{id} ---------------------------------------------------------------


async def test_the_path_id_wins_over_the_bodys(make_client: ClientFactory) -> None:
    adapter = ParityAdapter()
    client = await make_client(adapter)
    body = {**CONTACT, "id": "body-id"}
    response = await client.put("/contacts/path-id", json=body, headers=USER_HEADERS)
    assert response.status == 200
    id, update = adapter.received[-1]
    assert id == "path-id"
    assert update.id == "path-id"


async def test_the_cached_entry_replaced_is_the_returned_contacts(
    make_client: ClientFactory,
) -> None:
    adapter = ParityAdapter()
    adapter.contacts = [CONTACT, {**CONTACT, "id": "c-2"}]
    client = await make_client(adapter)
    assert len(await (await client.get("/contacts", headers=USER_HEADERS)).json()) == 2
    adapter.returned_id = "c-2"  # the CRM answers for another record than the path named
    response = await client.put("/contacts/c-1", json=CONTACT, headers=USER_HEADERS)
    assert response.status == 200
    cached = await (await client.get("/contacts", headers=USER_HEADERS)).json()
    assert [(c["id"], c["name"]) for c in cached] == [("c-1", "Ada"), ("c-2", "Updated")]


# -- GET /account/id ---------------------------------------------------------------------


@pytest.mark.parametrize(("account", "sent"), [(12345, "12345"), ("acc-1", "acc-1"), (7.0, "7")])
async def test_account_id_is_sent_as_a_string(
    make_client: ClientFactory, account: Any, sent: str
) -> None:
    adapter = ParityAdapter()
    adapter.account = account
    client = await make_client(adapter)
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == 200
    assert await response.text() == f'"{sent}"'


# -- bodies keep unknown fields ----------------------------------------------------------


async def test_call_log_body_keeps_unknown_fields(make_client: ClientFactory) -> None:
    adapter = ParityAdapter()
    client = await make_client(adapter)
    body = {**CALL, "integrationEntities": [{**ENTITY, "dealStage": "won"}]}
    response = await client.put("/call-log", json=body, headers=USER_HEADERS)
    assert response.status == 200
    event = adapter.received[-1]
    assert event.model_extra == {"customField": {"nested": [1, 2]}}
    assert event.participants[0].model_extra == {"crmLabel": "x"}
    assert event.integration_entities[0].model_extra == {"dealStage": "won"}
    assert event.to_wire()["customField"] == {"nested": [1, 2]}


async def test_contact_template_keeps_unknown_fields(make_client: ClientFactory) -> None:
    adapter = ParityAdapter()
    client = await make_client(adapter)
    template = {k: v for k, v in CONTACT.items() if k != "id"}
    response = await client.post(
        "/contacts", json={**template, "crmOwner": "u-7"}, headers=USER_HEADERS
    )
    assert response.status == 200
    assert adapter.received[-1].model_extra == {"crmOwner": "u-7"}


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("PUT", "/call-log", {**CALL, "extra": 1}, "Invalid call event received: "),
        ("POST", "/contacts", {"name": "x", "extra": 1}, "Invalid contactCreate received: "),
    ],
)
async def test_required_fields_are_still_checked(
    make_client: ClientFactory, method: str, path: str, body: dict[str, Any], message: str
) -> None:
    client = await make_client(ParityAdapter())
    response = await client.request(method, path, json=body, headers=USER_HEADERS)
    assert response.status == 400
    assert (await response.text()).startswith(message)


# -- results the original does not validate ---------------------------------------------


async def test_call_log_entities_are_sent_as_returned(make_client: ClientFactory) -> None:
    adapter = ParityAdapter()
    adapter.logged = [{"id": "deal-1", "type": "no-such-type", "crm_extra": 1}]
    client = await make_client(adapter)
    response = await client.put(
        "/call-log", json={**CALL, "integrationEntities": []}, headers=USER_HEADERS
    )
    assert response.status == 200
    assert await response.json() == [{"id": "deal-1", "type": "no-such-type", "crm_extra": 1}]


async def test_snake_case_fields_of_a_returned_entity_are_camel_cased(
    make_client: ClientFactory,
) -> None:
    adapter = ParityAdapter()
    adapter.logged = [{**ENTITY, "log_id": "log-9"}]
    client = await make_client(adapter)
    response = await client.put("/call-log/phoneNumber", json=CALL, headers=USER_HEADERS)
    assert await response.json() == {**ENTITY, "logId": "log-9"}


async def test_a_result_that_cannot_be_serialized_is_a_500_with_a_log_line(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = ParityAdapter()
    adapter.logged = [{**ENTITY, "logId": {1, 2}}]
    client = await make_client(adapter)
    with caplog.at_level(logging.ERROR):
        response = await client.put(
            "/call-log", json={**CALL, "integrationEntities": []}, headers=USER_HEADERS
        )
    assert response.status == 500
    text = await response.text()
    assert text.startswith("Invalid entity returned from bridge: cannot be written as JSON")
    assert any(text in record.getMessage() for record in caplog.records)


# -- CACHE_DISABLED keeps the fetch timeout --------------------------------------------


async def test_cache_disabled_still_gives_up_after_the_fetch_timeout(
    make_client: ClientFactory,
) -> None:
    adapter = ParityAdapter()
    adapter.fetch_delay = 5.0
    client = await make_client(adapter, cache_disabled=True, contact_fetch_timeout=0.2)
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 200
    assert response.headers["X-Fetching-State"] == "pending"
    assert await response.json() == []
    adapter.fetch_delay = 0.0
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert "X-Fetching-State" not in response.headers
    assert [c["id"] for c in await response.json()] == ["c-1"]


# -- routing as tolerant as Express ------------------------------------------------------


@pytest.mark.parametrize("path", ["/contacts/", "/Contacts", "/CONTACTS//", "/contacts?x=1"])
async def test_trailing_slash_and_case_do_not_matter(make_client: ClientFactory, path: str) -> None:
    client = await make_client(ParityAdapter())
    response = await client.get(path, headers=USER_HEADERS)
    assert response.status == 200
    assert [c["id"] for c in await response.json()] == ["c-1"]


async def test_ids_keep_their_case_and_the_query_is_kept(make_client: ClientFactory) -> None:
    adapter = ParityAdapter()
    client = await make_client(adapter)
    response = await client.get("/CONTACTS/AbC-9/?type=contacts", headers=USER_HEADERS)
    assert response.status == 200
    assert adapter.received == ["AbC-9"]


async def test_unknown_routes_and_wrong_methods_answer_as_before(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ParityAdapter())
    assert (await client.get("/nope/", headers=USER_HEADERS)).status == 404
    assert (await client.get("/contactsx", headers=USER_HEADERS)).status == 404
    assert (await client.patch("/Contacts/", headers=USER_HEADERS)).status == 405
    assert (await client.get("/Health/")).status == 200


async def test_routes_of_a_sub_app_are_tolerant_too(aiohttp_client: Any) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    sub = web.Application()
    sub.router.add_post("/customers/redact", hello)
    client = await aiohttp_client(create_app(ParityAdapter(), routes=[("/gdpr", sub)]))
    assert (await client.post("/GDPR/customers/redact/")).status == 200


# -- POST /contacts/stream -------------------------------------------------------------


async def test_stream_without_stream_contacts_is_501_before_the_user_id_check(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ParityAdapter())
    headers = headers_with(user_id=None)
    response = await client.post("/contacts/stream", headers=headers)
    assert response.status == 501
    assert await response.text() == "Streaming contacts is not implemented"
