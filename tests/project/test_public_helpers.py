"""The original's public helpers, in Python spelling (SPEC 12), each through the root import."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from integration_bridge import (
    Adapter,
    Config,
    IntegrationErrorType,
    OAuthOptions,
    PhoneNumber,
    ServerError,
    Settings,
    SettingsError,
    TokenRefreshError,
    create_app,
    delete_contact_cache_item,
    error_logger,
    gdpr_slack_notification_routes,
    get_contact_cache_item,
    get_subdomain,
    info_logger,
    is_direct_dial,
    is_integration_entity,
    normalize_phone_number,
    parse_oauth_options_from_env,
    parse_phone_number,
    throw_and_delegate_error,
    warn_logger,
)
from tests.support import API_KEY, USER_HEADERS, wire_contact

KEY = API_KEY


class ListAdapter(Adapter):
    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        number = {"label": "WORK", "phoneNumber": "030 1234567"}
        return [wire_contact(f"c-{self.fetches}", name="Ada", phoneNumbers=[number])]


# -- contact cache --------------------------------------------------------------------


async def test_contact_cache_items_can_be_read_and_dropped(aiohttp_client: Any) -> None:
    adapter = ListAdapter()
    client = await aiohttp_client(create_app(adapter, settings=Settings()))
    assert await get_contact_cache_item(KEY) is None  # nothing fetched: nothing fetched now
    assert adapter.fetches == 0
    await client.get("/contacts", headers=USER_HEADERS)
    cached = await get_contact_cache_item(KEY)
    assert cached is not None
    assert [(c["id"], c["phoneNumbers"][0]["e164"]) for c in cached] == [("c-1", "+49301234567")]
    await delete_contact_cache_item(KEY)
    assert await get_contact_cache_item(KEY) is None
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert [c["id"] for c in await response.json()] == ["c-2"]  # fetched afresh at once


class LooksUpItsList(ListAdapter):
    """Answers GET /account/id with the id of the first contact its app has cached."""

    async def get_account_id(self, config: Config) -> str:
        async def look_up() -> str:
            cached = await get_contact_cache_item(config.api_key)
            return "nothing cached" if cached is None else str(cached[0]["id"])

        in_request = await look_up()
        in_task = await asyncio.create_task(look_up())  # tasks started by the request too
        return f"{in_request} / {in_task}"


async def test_inside_a_request_helpers_use_that_requests_app(aiohttp_client: Any) -> None:
    """Whatever context the first app's server was started in, its requests find it."""
    runner = web.AppRunner(create_app(LooksUpItsList(), settings=Settings()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    # Started from a context that knows no app, as a process serving several might.
    await asyncio.get_running_loop().create_task(site.start(), context=contextvars.Context())
    first = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(headers=USER_HEADERS) as session:
            await session.get(f"{first}/contacts")  # cached in the first app only
            second = await aiohttp_client(create_app(LooksUpItsList(), settings=Settings()))
            # The second app started last: outside a request, it is the one helpers use.
            assert await get_contact_cache_item(KEY) is None
            async with session.get(f"{first}/account/id") as response:
                assert await response.json() == "c-1 / c-1"
            response = await second.get("/account/id", headers=USER_HEADERS)
            assert await response.json() == "nothing cached / nothing cached"
    finally:
        await runner.cleanup()


async def test_contact_cache_items_need_a_running_app() -> None:
    with pytest.raises(RuntimeError, match="no integration_bridge app is running"):
        await get_contact_cache_item(KEY)


# -- phone helpers -----------------------------------------------------------------------


def test_parse_phone_number_is_the_sanitized_form() -> None:
    assert parse_phone_number("+44 20 7946 0958", "de-DE") == {
        "label": "",
        "type": "STANDARD",
        "e164": "+442079460958",
        "localized": "+44 20 7946 0958",
        "phoneNumber": "+442079460958",
    }
    labeled = parse_phone_number(PhoneNumber(label="MOBILE", phone_number="0157 12345678"), "de_DE")
    assert (labeled["label"], labeled["localized"]) == ("MOBILE", "01571 2345678")


def test_parse_phone_number_can_ignore_the_region() -> None:
    result = parse_phone_number("+44 20 7946 0958", "de-DE", ignore_region=True)
    assert result["localized"] == "020 7946 0958"
    assert parse_phone_number("garbage", "de-DE", ignore_region=True)["localized"] == "garbage"


def test_normalize_and_direct_dial() -> None:
    assert normalize_phone_number("+49 (30) 123-45_67 x") == "+493012345_67x"
    assert is_direct_dial("12-34-5")
    assert not is_direct_dial("12-34-56")


# -- small helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "subdomain"),
    [
        ("https://acme.crm.example/api", "acme"),
        ("acme.crm.example", "acme"),
        ("http://user:pw@Shop-1.myshopify.com:8443/x?y", "shop-1"),
    ],
)
def test_get_subdomain(url: str, subdomain: str) -> None:
    assert get_subdomain(url) == subdomain


def test_get_subdomain_refuses_what_has_no_host() -> None:
    with pytest.raises(ValueError, match="not a URL with a host"):
        get_subdomain("https://")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "1", "type": "deals", "source": "HUBSPOT"}, True),
        ({"id": "1", "type": "deals", "source": "HUBSPOT", "label": "Deal"}, True),
        ({"id": 1, "type": "deals", "source": "HUBSPOT"}, False),
        ({"id": "1", "type": "spaceships", "source": "HUBSPOT"}, False),
        ({"id": "1", "type": "deals"}, False),
        ("deals", False),
        (None, False),
    ],
)
def test_is_integration_entity(value: Any, expected: bool) -> None:
    assert is_integration_entity(value) is expected


# -- loggers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger", "level"),
    [(info_logger, logging.INFO), (warn_logger, logging.WARNING), (error_logger, logging.ERROR)],
)
def test_loggers_write_one_line_with_the_key_anonymized(
    caplog: pytest.LogCaptureFixture, logger: Any, level: int
) -> None:
    with caplog.at_level(logging.INFO, logger="integration_bridge.bridge"):
        logger("getContacts", "fetched", "secret-provider-key-123456", {"page": 2}, 3)
    (record,) = caplog.records
    assert record.levelno == level
    assert record.getMessage() == "[getContacts] fetched"
    assert "secret-provider-key-123456" not in str(record.__dict__)
    assert record.__dict__["apiKey"].endswith("3456")
    assert record.__dict__["data"] == [repr({"page": 2}), 3]


def test_loggers_without_a_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="integration_bridge.bridge"):
        info_logger("startup", "ready")
    (record,) = caplog.records
    assert not hasattr(record, "apiKey")


# -- OAuth options from the environment ---------------------------------------------------

ENV = {
    "APP_ID": "app",
    "APP_SECRET": "very-secret",
    "APP_REDIRECT_URL": "https://bridge.example/oauth2/callback",
    "API_URL": "https://api.crm.example",
    "APP_AUTHORIZE_URL": "https://crm.example/authorize",
    "APP_ACCESSTOKEN_URL": "https://crm.example/token",
}


def test_oauth_options_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    options = parse_oauth_options_from_env()
    assert options == OAuthOptions(
        app_id="app",
        app_secret="very-secret",
        redirect_url="https://bridge.example/oauth2/callback",
        api_url="https://api.crm.example",
        authorize_url="https://crm.example/authorize",
        access_token_url="https://crm.example/token",
    )
    assert "very-secret" not in repr(options)


def test_missing_oauth_options_are_named() -> None:
    environ = {**ENV, "APP_SECRET": " ", "API_URL": ""}
    del environ["APP_ID"]
    with pytest.raises(SettingsError) as info:
        parse_oauth_options_from_env(environ)
    assert str(info.value) == (
        "APP_ID, APP_SECRET, API_URL: missing in the environment (OAuth2 options)"
    )


# -- GDPR notification routes ----------------------------------------------------------------


async def test_gdpr_requests_are_forwarded_to_slack(
    aiohttp_client: Any, aiohttp_server: Any
) -> None:
    posted: list[dict[str, Any]] = []

    async def slack(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(text="ok")

    slack_app = web.Application()
    slack_app.router.add_post("/services/T/B/X", slack)
    slack_server = await aiohttp_server(slack_app)
    webhook = str(slack_server.make_url("/services/T/B/X"))
    routes = gdpr_slack_notification_routes(webhook)
    client = await aiohttp_client(create_app(ListAdapter(), routes=[routes]))
    for path in ("/gdpr/customers/data_request/", "/gdpr/customers/redact", "/gdpr/shop/redact/"):
        response = await client.post(path, json={"shop_domain": "s.myshopify.com"})
        assert response.status == 200
        assert await response.read() == b""
    assert len(posted) == 3
    text = posted[0]["text"]
    assert text.startswith(
        f"GDPR request: host {client.host}:{client.port}, path /customers/data_request/"
    )
    assert '"shop_domain": "s.myshopify.com"' in text
    assert posted[2]["text"].split("\n")[0].endswith("path /shop/redact/")


async def test_gdpr_answers_500_when_slack_fails(aiohttp_client: Any, aiohttp_server: Any) -> None:
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503)

    slack_app = web.Application()
    slack_app.router.add_post("/hook", down)
    slack_server = await aiohttp_server(slack_app)
    routes = gdpr_slack_notification_routes(str(slack_server.make_url("/hook")))
    client = await aiohttp_client(create_app(ListAdapter(), routes=[routes]))
    response = await client.post("/gdpr/shop/redact/", json={})
    assert response.status == 500
    assert await response.text() == "Error in /shop/redact/: Slack answered 503"
    bad = await client.post("/gdpr/shop/redact/", data=b"{not json")
    assert bad.status == 400


# -- a CRM's 401 as "log in again" ---------------------------------------------------------


class Unauthorized(Exception):
    status = 401


def test_a_401_can_mean_the_token_is_gone() -> None:
    with pytest.raises(ServerError) as default:
        throw_and_delegate_error(Unauthorized("no"), "getContacts", KEY)
    assert default.value.message == IntegrationErrorType.INTEGRATION_UNAUTHORIZED_ERROR
    with pytest.raises(TokenRefreshError) as refresh:
        throw_and_delegate_error(
            Unauthorized("no"), "getContacts", KEY, unauthorized_is_refresh_error=True
        )
    assert refresh.value.status == 452
    assert refresh.value.message == "integration/refresh-error"
    assert refresh.value.provider_status == 401


async def test_a_token_refresh_error_answers_452_without_an_error_line(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Gone(Adapter):
        async def get_account_id(self, config: Config) -> str:
            raise TokenRefreshError("invalid_grant: refresh token revoked", 400)

    client = await aiohttp_client(create_app(Gone(), settings=Settings()))
    with caplog.at_level(logging.INFO):
        response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == 452
    assert await response.text() == "integration/refresh-error"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_gdpr_payloads_stay_out_of_the_logs(
    aiohttp_client: Any, aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def slack(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    slack_app = web.Application()
    slack_app.router.add_post("/hook", slack)
    slack_server = await aiohttp_server(slack_app)
    routes = gdpr_slack_notification_routes(str(slack_server.make_url("/hook")))
    client = await aiohttp_client(create_app(ListAdapter(), routes=[routes]))
    with caplog.at_level(logging.INFO):
        response = await client.post("/gdpr/customers/redact/", json={"email": "ada@example.com"})
    assert response.status == 200
    assert "ada@example.com" not in caplog.text
    assert "path /customers/redact/" in caplog.text
