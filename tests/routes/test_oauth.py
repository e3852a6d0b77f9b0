"""The OAuth2 routes."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from integration_bridge import Adapter, OAuth2Credentials, ServerError
from tests.support import ClientFactory

REDIRECT = "https://app.example.com/oauth-done"


class OAuthAdapter(Adapter):
    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        response.set_cookie("oauth_nonce", "123", secure=True, samesite="None")
        return "https://crm.example.com/authorize?state=abc"

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials:
        code = request.query.get("code")
        if code != "good":
            raise ServerError(400, "bad code")
        return OAuth2Credentials(api_key="access token/1+2=", api_url="https://api.crm.example.com")


async def test_redirect_url_with_cookie(make_client: ClientFactory) -> None:
    client = await make_client(OAuthAdapter())
    response = await client.get("/oauth2/redirect")
    assert response.status == 200
    assert await response.json() == {"redirectUrl": "https://crm.example.com/authorize?state=abc"}
    assert "oauth_nonce=123" in response.headers["Set-Cookie"]


async def test_callback_redirects_with_credentials(make_client: ClientFactory) -> None:
    client = await make_client(
        OAuthAdapter(), oauth2_redirect_url=REDIRECT, oauth2_identifier="MYCRM"
    )
    response = await client.get("/oauth2/callback?code=good", allow_redirects=False)
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    assert "access%20token%2F1%2B2%3D" in location
    assert parse_qs(urlsplit(location).query) == {
        "name": ["MYCRM"],
        "key": ["access token/1+2="],
        "url": ["https://api.crm.example.com"],
    }


async def test_callback_without_identifier_says_unknown(make_client: ClientFactory) -> None:
    client = await make_client(OAuthAdapter(), oauth2_redirect_url=REDIRECT)
    response = await client.get("/oauth2/callback?code=good", allow_redirects=False)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["name"] == ["UNKNOWN"]


async def test_failed_callback_redirects_without_credentials(make_client: ClientFactory) -> None:
    client = await make_client(OAuthAdapter(), oauth2_redirect_url=REDIRECT)
    response = await client.get("/oauth2/callback?code=bad", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == REDIRECT


async def test_callback_without_redirect_url_is_500(make_client: ClientFactory) -> None:
    client = await make_client(OAuthAdapter())
    response = await client.get("/oauth2/callback?code=good", allow_redirects=False)
    assert response.status == 500
    assert await response.text() == "OAuth2 Redirect URL not configured!"


async def test_token_route(make_client: ClientFactory) -> None:
    client = await make_client(OAuthAdapter())
    response = await client.get("/oauth2/token?code=good")
    assert response.status == 200
    assert await response.json() == {
        "apiKey": "access token/1+2=",
        "apiUrl": "https://api.crm.example.com",
    }


async def test_failing_token_route_answers_and_the_server_lives(
    make_client: ClientFactory,
) -> None:
    client = await make_client(OAuthAdapter())
    response = await client.get("/oauth2/token?code=bad")
    assert response.status == 400
    assert await response.text() == "bad code"
    response = await client.get("/oauth2/token?code=good")
    assert response.status == 200


async def test_a_failed_callback_logs_its_reason(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(OAuthAdapter(), oauth2_redirect_url=REDIRECT)
    with caplog.at_level(logging.WARNING, logger="integration_bridge.oauth2"):
        await client.get("/oauth2/callback?code=bad", allow_redirects=False)
    assert [r.getMessage() for r in caplog.records] == [
        "[handleOAuth2Callback] OAuth2 callback failed: bad code"
    ]
