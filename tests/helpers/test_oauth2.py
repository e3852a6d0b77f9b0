"""The OAuth2 flow against a fake authorization server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from integration_bridge import OAuth2Credentials, ServerError, SettingsError, TokenRefreshError
from integration_bridge.helpers import (
    OAuth2Client,
    TokenExchangeStyle,
    TokenSet,
    default_api_key,
    split_api_key,
)

SECRET_CODE = "code-secret-123"


class AuthServer:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def token(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if "params" in body:  # the original's BODY style wraps the parameters
                params["_wrapped"] = True
                body = body["params"]
            params.update(body)
        elif request.content_type == "application/x-www-form-urlencoded":
            params.update(await request.post())
        params["_style"] = request.content_type
        params["_header"] = request.headers.get("X-Extra")
        self.seen.append(params)
        if params.get("client_secret") != "s3cret":
            return web.json_response({"error": "invalid_client"}, status=401)
        if params["grant_type"] == "authorization_code" and params.get("code") == SECRET_CODE:
            return web.json_response(
                {"access_token": "acc-1", "refresh_token": "ref-1", "expires_in": 3600}
            )
        if params["grant_type"] == "refresh_token" and params.get("refresh_token") == "ref-1":
            return web.json_response({"access_token": "acc-2", "expires_in": 3600})
        return web.json_response({"error": "invalid_grant"}, status=400)


@pytest.fixture
async def auth(aiohttp_server: Any) -> tuple[AuthServer, str]:
    server = AuthServer()
    app = web.Application()
    app.router.add_post("/token", server.token)
    running = await aiohttp_server(app)
    return server, str(running.make_url("/token"))


def client(token_url: str, style: TokenExchangeStyle = TokenExchangeStyle.FORM) -> OAuth2Client:
    return OAuth2Client(
        client_id="cid",
        client_secret="s3cret",
        authorize_url_base="https://crm.example.com/oauth/authorize",
        token_url=token_url,
        redirect_uri="https://bridge.example.com/oauth2/callback",
        cookie_secret="cookie-signing-secret-of-32-bytes+",
        api_url="https://api.crm.example.com",
        scopes=("contacts", "calls"),
        exchange_style=style,
        extra_headers={"X-Extra": "yes"},
    )


def authorize(oauth: OAuth2Client) -> tuple[str, str, dict[str, Any]]:
    response = web.Response()
    url = oauth.authorize_url(response)
    morsel = response.cookies[oauth.cookie_name]
    assert morsel["secure"] and morsel["samesite"] == "None" and morsel["httponly"]
    assert int(morsel["max-age"]) == oauth.cookie_max_age
    query = parse_qs(urlsplit(url).query)
    return url, morsel.value, {k: v[0] for k, v in query.items()}


def callback(oauth: OAuth2Client, query: str, cookie: str | None) -> web.Request:
    headers = {"Cookie": f"{oauth.cookie_name}={cookie}"} if cookie else {}
    return make_mocked_request("GET", f"/oauth2/callback?{query}", headers=headers)


def test_authorize_url_carries_a_numeric_nonce_in_json_state(auth: Any) -> None:
    _, token_url = auth
    url, cookie, query = authorize(client(token_url))
    assert url.startswith("https://crm.example.com/oauth/authorize?")
    state = json.loads(query["state"])
    assert state["nonce"].isdigit()
    assert state["accessTokenUrl"] == token_url
    assert state["apiUrl"] == "https://api.crm.example.com"
    assert query["scope"] == "contacts calls" and query["client_id"] == "cid"
    assert state["nonce"] not in cookie.split(".")[1:]  # signed, not just the nonce


@pytest.mark.parametrize("style", list(TokenExchangeStyle))
async def test_code_exchange_in_each_style(auth: Any, style: TokenExchangeStyle) -> None:
    server, token_url = auth
    oauth = client(token_url, style)
    _, cookie, query = authorize(oauth)
    request = callback(oauth, f"code={SECRET_CODE}&state={query['state']}", cookie)
    response = web.Response()
    creds = await oauth.handle_callback(request, response)
    assert creds == OAuth2Credentials(api_key="acc-1:ref-1", api_url="https://api.crm.example.com")
    seen = server.seen[-1]
    expected_type = {
        TokenExchangeStyle.QUERY: "application/octet-stream",
        TokenExchangeStyle.FORM: "application/x-www-form-urlencoded",
        TokenExchangeStyle.JSON: "application/json",
        TokenExchangeStyle.ORIGINAL_BODY: "application/json",
    }[style]
    assert seen.get("_wrapped", False) is (style is TokenExchangeStyle.ORIGINAL_BODY)
    assert seen["_style"] == expected_type
    assert seen["_header"] == "yes"
    assert seen["redirect_uri"] == oauth.redirect_uri
    assert response.cookies[oauth.cookie_name].value == ""  # nonce cookie cleared


@pytest.mark.parametrize("style", list(TokenExchangeStyle))
async def test_refresh_in_each_style(auth: Any, style: TokenExchangeStyle) -> None:
    _, token_url = auth
    tokens = await client(token_url, style).refresh("ref-1")
    assert tokens.access_token == "acc-2"
    assert tokens.refresh_token == "ref-1"  # kept when the server sends none


@pytest.mark.parametrize(
    ("query", "use_cookie", "status", "message"),
    [
        ("error=access_denied", True, 403, "OAuth2 authorization failed: access_denied"),
        (f"code={SECRET_CODE}", True, 400, "OAuth2 callback without state"),
        ("state={}", True, 400, "OAuth2 callback without code"),
        ("code=x&state=not-json", True, 400, "OAuth2 callback with malformed state"),
    ],
)
async def test_bad_callbacks_are_refused(
    auth: Any, query: str, use_cookie: bool, status: int, message: str
) -> None:
    _, token_url = auth
    oauth = client(token_url)
    _, cookie, _ = authorize(oauth)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(callback(oauth, query, cookie if use_cookie else None))
    assert (info.value.status, info.value.message) == (status, message)


async def test_csrf_is_refused(auth: Any) -> None:
    server, token_url = auth
    oauth = client(token_url)
    _, cookie, query = authorize(oauth)
    _, other_cookie, _ = authorize(oauth)
    state = query["state"]
    for bad_cookie, message in [
        (None, "without nonce cookie"),
        (other_cookie, "nonce mismatch"),
        (cookie + "x", "forged"),
    ]:
        with pytest.raises(ServerError) as info:
            await oauth.handle_callback(
                callback(oauth, f"code={SECRET_CODE}&state={state}", bad_cookie)
            )
        assert message in info.value.message
        assert info.value.status == 401
    assert server.seen == []  # no code was exchanged
    creds = await oauth.handle_callback(
        callback(oauth, f"code={SECRET_CODE}&state={state}", None), check_nonce=False
    )
    assert creds.api_key == "acc-1:ref-1"


async def test_an_expired_nonce_cookie_is_refused(auth: Any) -> None:
    server, token_url = auth
    oauth = dataclasses.replace(client(token_url), cookie_max_age=0)
    _, cookie, query = authorize(oauth)
    await asyncio.sleep(1.1)  # the signature's clock has a one-second resolution
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(
            callback(oauth, f"code={SECRET_CODE}&state={query['state']}", cookie)
        )
    assert (info.value.status, info.value.message) == (401, "OAuth2 nonce cookie expired")
    assert server.seen == []  # no code was exchanged


async def test_refused_exchange_keeps_secrets_out_of_the_message(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    oauth.client_secret = "wrong-secret"
    _, cookie, query = authorize(oauth)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(
            callback(oauth, f"code={SECRET_CODE}&state={query['state']}", cookie)
        )
    assert info.value.status == 500
    for secret in (SECRET_CODE, "wrong-secret", "s3cret"):
        assert secret not in info.value.message
    assert "wrong-secret" not in repr(oauth)


def _state_with(raw_state: str, **changes: Any) -> str:
    return quote(json.dumps({**json.loads(raw_state), **changes}))


@pytest.mark.parametrize(
    "changes",
    [
        {"apiUrl": "https://attacker.example"},
        {"nonce": "123"},
        {"signature": "forged"},
        {"signature": None},
    ],
)
@pytest.mark.parametrize("check_nonce", [True, False])
async def test_a_state_this_client_did_not_issue_is_refused(
    auth: Any, changes: dict[str, Any], check_nonce: bool
) -> None:
    server, token_url = auth
    oauth = client(token_url)
    _, cookie, query = authorize(oauth)
    state = _state_with(query["state"], **changes)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(
            callback(oauth, f"code={SECRET_CODE}&state={state}", cookie), check_nonce=check_nonce
        )
    assert info.value.message == "OAuth2 callback with a state this bridge did not issue"
    assert server.seen == []  # the code was not exchanged


async def test_an_unsigned_state_like_the_originals_is_refused(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    state = quote(json.dumps({"nonce": "1", "accessTokenUrl": token_url, "apiUrl": "x"}))
    with pytest.raises(ServerError):
        await oauth.handle_callback(
            callback(oauth, f"code={SECRET_CODE}&state={state}", None), check_nonce=False
        )


async def test_api_url_per_login(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    response = web.Response()
    url = oauth.authorize_url(response, api_url="https://eu.crm.example.com")
    state = parse_qs(urlsplit(url).query)["state"][0]
    assert json.loads(state)["apiUrl"] == "https://eu.crm.example.com"
    cookie = response.cookies[oauth.cookie_name].value
    creds = await oauth.handle_callback(
        callback(oauth, f"code={SECRET_CODE}&state={quote(state)}", cookie)
    )
    assert creds.api_url == "https://eu.crm.example.com"


def test_split_api_key_undoes_default_api_key() -> None:
    tokens = TokenSet("acc-1", "ref-1")
    assert split_api_key(default_api_key(tokens)) == ("acc-1", "ref-1")
    assert split_api_key(default_api_key(TokenSet("acc-1"))) == ("acc-1", None)
    assert split_api_key("acc:") == ("acc", None)


async def test_refusals_name_the_oauth_error_code_only(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    _, cookie, query = authorize(oauth)
    request = callback(oauth, f"code=made-up-code&state={query['state']}", cookie)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(request, web.Response())
    assert info.value.status == 403
    assert info.value.message == "OAuth2 token request refused with status 400 (invalid_grant)"


async def test_a_refused_refresh_is_a_token_refresh_error(
    auth: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, token_url = auth
    with pytest.raises(TokenRefreshError) as info:
        await client(token_url).refresh("unknown-refresh-token")
    assert info.value.status == 452
    assert info.value.message == "integration/refresh-error"
    assert info.value.reason == "status 400, error=invalid_grant"
    assert info.value.provider_status == 400
    assert "unknown-refresh-token" not in caplog.text


async def test_the_providers_own_fields_feed_the_refusal_reason(aiohttp_server: Any) -> None:
    async def token(request: web.Request) -> web.Response:
        body = {
            "status": "BAD_REFRESH_TOKEN",
            "message": "missing or invalid refresh token",
            "error_description": "Token <revoked>\n",
            "correlationId": "ignored",
        }
        return web.json_response(body, status=400)

    app = web.Application()
    app.router.add_post("/token", token)
    server = await aiohttp_server(app)
    with pytest.raises(TokenRefreshError) as info:
        await client(str(server.make_url("/token"))).refresh("ref-1")
    assert info.value.reason == (
        "status 400, status=BAD_REFRESH_TOKEN, error_description=Token ?revoked??,"
        " message=missing or invalid refresh token"
    )


async def test_a_failing_token_endpoint_is_not_a_refresh_error(aiohttp_server: Any) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"error": "temporarily_unavailable"}, status=503)

    app = web.Application()
    app.router.add_post("/token", token)
    server = await aiohttp_server(app)
    with pytest.raises(ServerError) as info:
        await client(str(server.make_url("/token"))).refresh("ref-1")
    assert not isinstance(info.value, TokenRefreshError)
    assert info.value.status == 500


def test_the_cookie_secret_comes_from_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "from-the-environment-and-long-enough-1234"
    monkeypatch.setenv("OAUTH2_COOKIE_SECRET", secret)
    oauth = dataclasses.replace(client("https://crm.example.com/token"), cookie_secret="")
    assert oauth.cookie_secret == secret
    monkeypatch.delenv("OAUTH2_COOKIE_SECRET")
    with pytest.raises(SettingsError) as info:
        dataclasses.replace(oauth, cookie_secret="")
    assert str(info.value).startswith("OAUTH2_COOKIE_SECRET: missing: OAuth2Client needs")


async def test_an_unsigned_state_is_accepted_only_when_configured(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    _, cookie, query = authorize(oauth)
    state = json.loads(query["state"])
    unsigned = json.dumps({k: v for k, v in state.items() if k != "signature"})
    request = callback(oauth, f"code={SECRET_CODE}&state={quote(unsigned)}", cookie)
    with pytest.raises(ServerError) as refused:
        await oauth.handle_callback(request, web.Response())
    assert refused.value.status == 401
    lenient = dataclasses.replace(oauth, accept_unsigned_state=True)
    creds = await lenient.handle_callback(request, web.Response())
    assert creds.api_key == "acc-1:ref-1"
    forged = json.dumps({**state, "signature": "forged"})
    request = callback(oauth, f"code={SECRET_CODE}&state={quote(forged)}", cookie)
    with pytest.raises(ServerError):
        await lenient.handle_callback(request, web.Response())


async def test_the_nonce_check_can_be_switched_off_for_the_client(auth: Any) -> None:
    _, token_url = auth
    oauth = dataclasses.replace(client(token_url), check_nonce=False)
    _, _, query = authorize(oauth)
    request = callback(oauth, f"code={SECRET_CODE}&state={query['state']}", None)
    assert (await oauth.handle_callback(request, web.Response())).api_key == "acc-1:ref-1"
    with pytest.raises(ServerError, match="without nonce cookie"):
        await oauth.handle_callback(request, web.Response(), check_nonce=True)


async def test_a_provider_error_says_what_the_provider_said(auth: Any) -> None:
    _, token_url = auth
    oauth = client(token_url)
    request = callback(oauth, "error=access_denied&error_description=User+said+no", None)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(request, web.Response())
    assert info.value.message == "OAuth2 authorization failed: access_denied (User said no)"


async def test_form_encoded_token_answers(aiohttp_server: Any) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.Response(
            text="access_token=acc-9&scope=repo&token_type=bearer",
            content_type="application/x-www-form-urlencoded",
        )

    app = web.Application()
    app.router.add_post("/token", token)
    server = await aiohttp_server(app)
    tokens = await client(str(server.make_url("/token"))).refresh("ref-1")
    assert tokens.access_token == "acc-9"


async def test_a_redirecting_token_endpoint_gets_no_secret_elsewhere(aiohttp_server: Any) -> None:
    """A 307 would re-send the code and the client secret to wherever it points."""
    received: list[bytes] = []

    async def elsewhere(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"access_token": "stolen"})

    collector = web.Application()
    collector.router.add_post("/collect", elsewhere)
    collector_server = await aiohttp_server(collector)

    async def token(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(str(collector_server.make_url("/collect")))

    app = web.Application()
    app.router.add_post("/token", token)
    server = await aiohttp_server(app)
    oauth = client(str(server.make_url("/token")))
    _, cookie, query = authorize(oauth)
    with pytest.raises(ServerError) as info:
        await oauth.handle_callback(
            callback(oauth, f"code={SECRET_CODE}&state={query['state']}", cookie)
        )
    assert "redirect" in info.value.message
    assert received == []
