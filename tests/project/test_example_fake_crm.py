"""The helpers together against the example fake CRM, served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from examples.fake_crm import FakeCrm, generate_contacts
from integration_bridge import ServerError
from integration_bridge.helpers import (
    OAuth2Client,
    RateLimiter,
    TokenExchangeStyle,
    paginate,
    request_with_retry,
    retry_on_status,
    split_api_key,
)


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    fake = FakeCrm(contacts_per_user=95)
    await fake.start()
    assert urlsplit(fake.url).hostname == "127.0.0.1"
    yield fake
    await fake.stop()


async def test_paginate_with_rate_limit_and_retries(crm: FakeCrm) -> None:
    limiter = RateLimiter(50, 0.1)
    headers = {"Authorization": "Bearer user-token"}
    async with aiohttp.ClientSession() as session:

        async def fetch(page: int) -> Any:
            response = await request_with_retry(
                session,
                "GET",
                f"{crm.url}/api/contacts",
                params={"page": page, "pageSize": 10},
                headers=headers,
                decide=retry_on_status(base_delay=0.01),
                limiter=limiter,
                limit_key="user-token",
            )
            return response.json()

        contacts = await paginate(
            0, fetch, lambda page, body: body["nextPage"], lambda body: body["items"]
        )
    assert contacts == generate_contacts("user-token", 95)
    # 10 pages; every 7th request was throttled and every 11th failed, then retried.
    assert crm.requests == 12


def test_generated_contacts_are_deterministic_and_international() -> None:
    contacts = generate_contacts("seed", 300)
    assert contacts == generate_contacts("seed", 300)
    assert contacts != generate_contacts("other seed", 300)
    numbers = [n["phoneNumber"] for c in contacts for n in c["phoneNumbers"]]
    for prefix in ("+49 ", "+44 20", "+43 664", "(415) 555-", "0211 "):
        assert any(number.startswith(prefix) for number in numbers), prefix


async def test_contacts_need_a_bearer_token(crm: FakeCrm) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{crm.url}/api/contacts/c1") as response:
            assert response.status == 401
        headers = {"Authorization": "Bearer invalid"}
        async with session.get(f"{crm.url}/api/contacts/c1", headers=headers) as response:
            assert response.status == 401


def oauth_client(crm: FakeCrm, style: TokenExchangeStyle, secret: str = "demo-secret") -> Any:
    return OAuth2Client(
        client_id="demo-client",
        client_secret=secret,
        authorize_url_base=f"{crm.url}/oauth/authorize",
        token_url=f"{crm.url}/oauth/token",
        redirect_uri="https://bridge.example.com/oauth2/callback",
        cookie_secret="cookie-secret-of-at-least-32-bytes",
        api_url=crm.url,
        exchange_style=style,
    )


async def login(oauth: OAuth2Client, session: aiohttp.ClientSession) -> tuple[str, str]:
    """The browser's part: the authorize URL, the CRM's redirect; (callback query, cookie)."""
    response = web.Response()
    url = oauth.authorize_url(response)
    async with session.get(url, allow_redirects=False) as authorized:
        assert authorized.status == 302
        location = urlsplit(authorized.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == oauth.redirect_uri
    return location.query, response.cookies[oauth.cookie_name].value


def callback(oauth: OAuth2Client, query: str, cookie: str) -> web.Request:
    headers = {"Cookie": f"{oauth.cookie_name}={cookie}"}
    return make_mocked_request("GET", f"/oauth2/callback?{query}", headers=headers)


@pytest.mark.parametrize("style", list(TokenExchangeStyle))
async def test_oauth2_flow_exchange_refresh_and_use(
    crm: FakeCrm, style: TokenExchangeStyle
) -> None:
    oauth = oauth_client(crm, style)
    async with aiohttp.ClientSession() as session:
        query, cookie = await login(oauth, session)
        creds = await oauth.handle_callback(callback(oauth, query, cookie), session=session)
        assert creds.api_url == crm.url
        access, refresh = split_api_key(creds.api_key)
        assert access.startswith("acc-") and refresh is not None and refresh.startswith("ref-")
        tokens = await oauth.refresh(refresh, session=session)
        assert tokens.access_token != access
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        response = await request_with_retry(
            session, "GET", f"{creds.api_url}/api/contacts/c1", headers=headers
        )
        assert response.json()["id"] == "c1"
    # The original's BODY style wraps only the code exchange; its refresh is plain JSON.
    refreshed = "json" if style is TokenExchangeStyle.ORIGINAL_BODY else style.value
    assert crm.token_requests == [style.value, refreshed]


async def test_a_code_is_exchanged_once(crm: FakeCrm) -> None:
    oauth = oauth_client(crm, TokenExchangeStyle.FORM)
    async with aiohttp.ClientSession() as session:
        query, cookie = await login(oauth, session)
        await oauth.handle_callback(callback(oauth, query, cookie), session=session)
        with pytest.raises(ServerError) as info:
            await oauth.handle_callback(callback(oauth, query, cookie), session=session)
    assert info.value.message == "OAuth2 token request refused with status 400 (invalid_grant)"


async def test_declined_consent_is_refused(crm: FakeCrm) -> None:
    crm.consent = False
    oauth = oauth_client(crm, TokenExchangeStyle.FORM)
    async with aiohttp.ClientSession() as session:
        query, cookie = await login(oauth, session)
        with pytest.raises(ServerError) as info:
            await oauth.handle_callback(callback(oauth, query, cookie), session=session)
    assert info.value.message == "OAuth2 authorization failed: access_denied (declined)"
    assert crm.token_requests == []


async def test_another_browsers_callback_is_refused_as_csrf(crm: FakeCrm) -> None:
    oauth = oauth_client(crm, TokenExchangeStyle.JSON)
    async with aiohttp.ClientSession() as session:
        victim_query, _ = await login(oauth, session)
        _, attacker_cookie = await login(oauth, session)
        with pytest.raises(ServerError) as info:
            await oauth.handle_callback(
                callback(oauth, victim_query, attacker_cookie), session=session
            )
    assert info.value.message == "OAuth2 nonce mismatch: possible CSRF"
    assert crm.token_requests == []  # the code never left the bridge


async def test_a_wrong_client_secret_stays_out_of_the_error(crm: FakeCrm) -> None:
    oauth = oauth_client(crm, TokenExchangeStyle.QUERY, secret="not-the-secret")
    async with aiohttp.ClientSession() as session:
        query, cookie = await login(oauth, session)
        with pytest.raises(ServerError) as info:
            await oauth.handle_callback(callback(oauth, query, cookie), session=session)
    assert info.value.message == "OAuth2 token request refused with status 401 (invalid_client)"
    code = parse_qs(query)["code"][0]
    assert "not-the-secret" not in repr(info.value) and code not in repr(info.value)
