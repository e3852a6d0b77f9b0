"""The OAuth2 flow against a fake authorization server on loopback."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from integration_bridge import OAuth2Credentials, ServerError
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
            params.update(await request.json())
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
    }[style]
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
    with pytest.raises(ServerError) as info:
        await client(token_url).refresh("unknown-refresh-token")
    assert info.value.message == "OAuth2 token request refused with status 400 (invalid_grant)"


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
