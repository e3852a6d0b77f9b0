"""Health, token validation, account id, connected/disconnected and every 501."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import Adapter, Config, ServerError
from tests.support import API_KEY, API_URL, CALL, USER_HEADERS, USER_ID, ClientFactory, EmptyAdapter


class BasicAdapter(Adapter):
    def __init__(self, valid: bool = True, account: str = "acc-1") -> None:
        self.valid = valid
        self.account = account
        self.events: list[tuple[str, Config]] = []
        self.healthy = True

    async def get_health(self) -> None:
        if not self.healthy:
            raise ServerError(503, "CRM unreachable")

    async def is_valid_token(self, config: Config) -> bool:
        return self.valid

    async def get_account_id(self, config: Config) -> str:
        return self.account

    async def handle_connected_event(self, config: Config) -> None:
        self.events.append(("connected", config))

    async def handle_disconnected_event(self, config: Config) -> None:
        self.events.append(("disconnected", config))


async def test_health_ok_without_adapter_health(make_client: ClientFactory) -> None:
    client = await make_client(EmptyAdapter())
    response = await client.get("/health")
    assert response.status == 200
    assert await response.text() == "OK"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_health_reports_adapter_failure(make_client: ClientFactory) -> None:
    adapter = BasicAdapter()
    adapter.healthy = False
    client = await make_client(adapter)
    response = await client.get("/health")
    assert response.status == 503
    assert await response.text() == "CRM unreachable"


@pytest.mark.parametrize(
    ("valid", "status", "body"), [(True, 200, "OK"), (False, 401, "Token is not valid")]
)
async def test_validate_token(
    make_client: ClientFactory, valid: bool, status: int, body: str
) -> None:
    client = await make_client(BasicAdapter(valid=valid))
    response = await client.get("/validate-token", headers=USER_HEADERS)
    assert response.status == status
    assert await response.text() == body
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_account_id_is_a_json_string(make_client: ClientFactory) -> None:
    client = await make_client(BasicAdapter(account="acc-42"))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == "acc-42"


async def test_falsy_account_id_is_500(make_client: ClientFactory) -> None:
    client = await make_client(BasicAdapter(account=""))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == 500
    assert await response.text() == "AccountID not found"


async def test_connected_and_disconnected_get_the_config(make_client: ClientFactory) -> None:
    adapter = BasicAdapter()
    client = await make_client(adapter)
    for event in ("connected", "disconnected"):
        response = await client.post(f"/events/{event}", headers=USER_HEADERS)
        assert response.status == 200
        assert await response.read() == b""
    assert [name for name, _ in adapter.events] == ["connected", "disconnected"]
    config = adapter.events[0][1]
    assert config.user_id == USER_ID
    assert config.api_key == API_KEY
    assert config.api_url == API_URL
    assert config.locale == "de-DE"


async def test_missing_headers_become_empty_strings(make_client: ClientFactory) -> None:
    adapter = BasicAdapter()
    client = await make_client(adapter)
    await client.post("/events/connected")
    config = adapter.events[0][1]
    assert (config.user_id, config.api_key, config.api_url, config.locale) == ("", "", "", "de-DE")


CONTACT = {"phoneNumbers": [{"label": "WORK", "phoneNumber": "+4921112345"}]}
NOT_IMPLEMENTED: list[tuple[str, str, Any, str]] = [
    ("GET", "/contacts", None, "Fetching contacts is not implemented"),
    ("GET", "/contacts/1?type=contacts", None, "Getting single contact is not implemented"),
    ("POST", "/contacts", CONTACT, "Creating contacts is not implemented"),
    ("PUT", "/contacts/1", CONTACT, "Updating contacts is not implemented"),
    ("DELETE", "/contacts/1", None, "Deleting contacts is not implemented"),
    ("POST", "/contacts/stream", None, "Streaming contacts is not implemented"),
    ("GET", "/validate-token", None, "Token validation function is not implemented"),
    ("GET", "/account/id", None, "Fetching account id is not implemented"),
    ("GET", "/entity/deals/1", None, "Fetching Entity is not implemented"),
    ("GET", "/contacts/1/entities", None, "Fetching Entities for contact is not implemented"),
    ("POST", "/events/calls", CALL, "Handling call event is not implemented"),
    ("PUT", "/events/calls/1", CALL, "Updating call events is not implemented"),
    ("POST", "/events/connected", None, "Handling connected event is not implemented"),
    ("POST", "/events/disconnected", None, "Handling disconnected event is not implemented"),
    (
        "PUT",
        "/call-log",
        {**CALL, "integrationEntities": []},
        "Updating call log with entities is not implemented",
    ),
    (
        "PUT",
        "/call-log/phoneNumber",
        CALL,
        "Creating call log for phoneNumber is not implemented",
    ),
    ("GET", "/oauth2/redirect", None, "OAuth2 flow not implemented"),
    ("GET", "/oauth2/callback", None, "OAuth2 flow not implemented"),
    ("GET", "/oauth2/token", None, "OAuth2 flow not implemented"),
    ("POST", "/webhook", {}, "Webhook handling not implemented"),
    ("GET", "/tasks/1", None, "Method not implemented"),
    ("POST", "/tasks", None, "Method not implemented"),
    ("GET", "/task-metadata", None, "Method not implemented"),
    ("GET", "/call-log-metadata", None, "Method not implemented"),
]


@pytest.mark.parametrize(("method", "path", "body", "message"), NOT_IMPLEMENTED)
async def test_not_implemented_routes_answer_501(
    make_client: ClientFactory, method: str, path: str, body: Any, message: str
) -> None:
    client = await make_client(EmptyAdapter())
    response = await client.request(method, path, json=body, headers=USER_HEADERS)
    assert response.status == 501
    assert response.content_type == "text/plain"
    assert await response.text() == message
