"""The OAuth2 login helper: a whole login through a bridge and the fake CRM's consent page."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from integration_bridge import Adapter, Config, OAuth2Client, OAuth2Credentials
from integration_bridge.testing import FakeCrm, bridge_client, oauth2_login, user_headers


class OAuthBridge(Adapter):
    """Logs in at the fake CRM and checks the key against its API."""

    def __init__(self, crm: FakeCrm) -> None:
        self.crm = crm
        self.oauth = OAuth2Client(
            client_id="test-client",
            client_secret="test-secret",
            authorize_url_base=crm.authorize_url,
            token_url=crm.token_url,
            redirect_uri="http://127.0.0.1:8080/oauth2/token",
            cookie_secret="cookie-secret-of-at-least-32-bytes",
            api_url=crm.url,
            api_key_from_tokens=lambda tokens: tokens.access_token,
        )

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        return self.oauth.authorize_url(response)

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials:
        return await self.oauth.handle_callback(request, response)

    async def is_valid_token(self, config: Config) -> bool:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{config.api_url}/api/me", headers={"Authorization": f"Bearer {config.api_key}"}
            ) as response,
        ):
            return response.status == 200


async def login_client(aiohttp_client: Any, fake_crm: FakeCrm, **settings: Any) -> Any:
    fake_crm.oauth2()
    fake_crm.route("GET", "/api/me", {"ok": True})
    fake_crm.accepted_tokens = set()  # only tokens the login issued
    return await bridge_client(aiohttp_client, OAuthBridge(fake_crm), **settings)


async def test_login_through_token_route(aiohttp_client: Any, fake_crm: FakeCrm) -> None:
    client = await login_client(aiohttp_client, fake_crm)
    login = await oauth2_login(client)
    assert login.status == 200
    assert "oauth_nonce" in login.cookies
    assert login.callback_path.startswith("/oauth2/token?code=")
    assert login.credentials["apiUrl"] == fake_crm.url
    headers = user_headers(api_key=login.api_key, api_url=fake_crm.url)
    assert (await client.get("/validate-token", headers=headers)).status == 200


async def test_the_jar_alone_loses_the_secure_cookie(
    aiohttp_client: Any, fake_crm: FakeCrm
) -> None:
    client = await login_client(aiohttp_client, fake_crm)
    forged = await oauth2_login(client, send_cookies=False)
    assert forged.status == 401
    assert "CSRF" in forged.body


async def test_login_through_callback_route(aiohttp_client: Any, fake_crm: FakeCrm) -> None:
    client = await login_client(
        aiohttp_client, fake_crm, oauth2_redirect_url="https://app.example/done"
    )
    login = await oauth2_login(client, callback_path="/oauth2/callback")
    assert login.status == 302
    assert login.location is not None and login.location.startswith("https://app.example/done?")
    assert login.api_key.startswith("acc-")
    assert login.api_key in fake_crm.issued_tokens


async def test_declined_consent(aiohttp_client: Any, fake_crm: FakeCrm) -> None:
    client = await login_client(aiohttp_client, fake_crm)
    fake_crm.decline_consent()
    login = await oauth2_login(client)
    assert login.status == 403
    try:
        login.credentials  # noqa: B018 - the property raises
    except AssertionError as error:
        assert "login failed" in str(error)
    else:
        raise AssertionError("a declined login has no credentials")
