"""Error answers, bad input, CORS, timing and compression; caller faults; hostile headers."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web

from examples.demo_bridge import DemoBridge
from integration_bridge import Adapter, Config, ContactTemplate, ServerError, Settings, create_app
from integration_bridge.logging import JsonFormatter
from integration_bridge.middlewares import CONFIG_MEMO_MAX_BYTES, config_of
from tests.support import (
    API_KEY,
    API_URL,
    USER_HEADERS,
    USER_ID,
    ClientFactory,
    Writes,
    headers_with,
    logged_lines,
    send_raw,
)


class Failing(Adapter):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def get_account_id(self, config: Config) -> str:
        raise self.error

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        raise AssertionError("must not be reached")

    async def get_call_log_metadata(self, config: Config) -> dict[str, Any]:
        return {"label": "x" * 5000}


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (ServerError(418, "teapot"), 418, "teapot"),
        (ServerError(), 500, "Unknown Error"),
        (ServerError(302, "odd"), 500, "odd"),
        (ServerError(452, "integration/unauthorized-error"), 452, "integration/unauthorized-error"),
        (RuntimeError("secret internals"), 500, "Internal Server Error"),
    ],
)
async def test_errors_become_plain_text_answers(
    make_client: ClientFactory, error: BaseException, status: int, body: str
) -> None:
    client = await make_client(Failing(error))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == status
    assert response.content_type == "text/plain"
    assert await response.text() == body


async def test_unexpected_errors_are_logged_with_traceback(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(Failing(RuntimeError("boom")))
    with caplog.at_level(logging.ERROR):
        response = await client.get("/account/id", headers=USER_HEADERS)
    assert await response.text() == "Internal Server Error"  # nothing of it leaks
    logged = [r for r in caplog.records if r.name.startswith("integration_bridge") and r.exc_info]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    exc_info = logged[0].exc_info
    assert exc_info is not None and repr(exc_info[1]) == repr(RuntimeError("boom"))


@pytest.mark.parametrize("body", [b"{not json", b"[1,2", b"\xff\xfe"])
async def test_malformed_json_is_400(make_client: ClientFactory, body: bytes) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post(
        "/contacts", data=body, headers={**USER_HEADERS, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "JSON" in await response.text()


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
async def test_json_that_is_not_an_object_is_400(make_client: ClientFactory, body: Any) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post(
        "/contacts",
        data=json.dumps(body),
        headers={**USER_HEADERS, "Content-Type": "application/json"},
    )
    assert response.status == 400


async def test_empty_body_counts_as_empty_object(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post("/contacts", headers=USER_HEADERS)
    assert response.status == 400
    assert "phoneNumbers" in await response.text()


async def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), max_body_size=1000)
    response = await client.post(
        "/contacts", data=b'{"a": "' + b"x" * 2000 + b'"}', headers=USER_HEADERS
    )
    assert response.status == 413


async def test_unknown_route_is_404_and_wrong_method_405(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    assert (await client.get("/nope")).status == 404
    response = await client.patch("/contacts")
    assert response.status == 405


async def test_404_and_405_get_cors_and_timing_like_any_answer(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), server_timing=True)
    origin = {"Origin": "https://app.example.com"}
    for response in (
        await client.get("/nope", headers=origin),
        await client.get("/Nope/", headers=origin),
        await client.patch("/contacts", headers=origin),
    ):
        assert response.status in (404, 405)
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response.headers["Server-Timing"].startswith("total;dur=")


async def test_cors_reflects_the_origin(make_client: ClientFactory) -> None:
    client = await make_client(Failing(ServerError(404, "x")))
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    response = await client.get(
        "/account/id", headers={**USER_HEADERS, "Origin": "https://app.example.com"}
    )
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # The front end reads these two from script: they must be exposed.
    exposed = {
        name.strip().lower()
        for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"x-provider-key", "x-fetching-state"} <= exposed


async def test_successful_requests_are_logged(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class Accounts(Adapter):
        async def get_account_id(self, config: Config) -> str:
            return "account-1"

    client = await make_client(Accounts())
    with caplog.at_level(logging.INFO, logger="integration_bridge.http"):
        response = await client.get("/account/id", headers=USER_HEADERS)
        assert response.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "integration_bridge.http"]
    assert any(line.startswith("[request] GET /account/id 200 ") for line in lines), lines


class _Unwell(Adapter):
    def __init__(self) -> None:
        self.well = True

    async def get_health(self) -> None:
        if not self.well:
            raise ServerError(503, "CRM session lost")


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("[request]")
    ]


@pytest.mark.parametrize("sub_app_middleware", [False, True], ids=["route", "middleware"])
async def test_health_probes_are_logged_only_when_they_fail(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, sub_app_middleware: bool
) -> None:
    """Balancers ask every few seconds: a healthy answer is not news, a failure is."""
    adapter = _Unwell()
    # A sub-application with middlewares of its own makes the bridge's an aiohttp middleware.
    routes = [("/sub", _sub_app(_failing_middleware))] if sub_app_middleware else []
    client = await aiohttp_client(create_app(adapter, settings=Settings(), routes=routes))
    with caplog.at_level(logging.INFO, logger="integration_bridge.http"):
        for path in ("/health", "/Health/"):  # the tolerant form is the same probe
            assert (await client.get(path)).status == 200
        assert (await client.get("/openapi.json")).status == 200
        adapter.well = False
        assert (await client.get("/health")).status == 503
    lines = _request_lines(caplog)
    assert [line.split(" ")[1:4] for line in lines] == [
        ["GET", "/openapi.json", "200"],
        ["GET", "/health", "503"],
    ], lines


async def test_cors_preflight(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.options(
        "/contacts",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-provider-key, content-type",
        },
    )
    assert 200 <= response.status < 300
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "x-provider-key, content-type"


async def test_cors_origins_can_be_restricted(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), cors_origins=("https://ok.example",))
    response = await client.get("/health", headers={"Origin": "https://ok.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    response = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_server_timing_header_when_asked_for(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), server_timing=True)
    for response in (await client.get("/health"), await client.get("/account/id")):
        timing = response.headers["Server-Timing"]
        assert re.fullmatch(r"total;dur=\d+\.\d", timing), timing


class _Slow(Adapter):
    async def get_account_id(self, config: Config) -> str:
        await asyncio.sleep(0.15)
        return "account-1"


async def test_timing_and_the_log_line_give_milliseconds(make_client: ClientFactory) -> None:
    with logged_lines("integration_bridge.http", JsonFormatter()) as stream:
        client = await make_client(_Slow(), server_timing=True)
        response = await client.get("/account/id", headers=USER_HEADERS)
    timing = float(response.headers["Server-Timing"].removeprefix("total;dur="))
    assert 150 <= timing < 5000, timing
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if line["message"].startswith("[request]")]
    assert 150 <= line["durationMs"] < 5000, line


async def test_no_server_timing_header_by_default(make_client: ClientFactory) -> None:
    """As the original: an answer does not say how long the bridge took unless asked to."""
    client = await make_client(Failing(RuntimeError()))
    for response in (await client.get("/health"), await client.get("/account/id")):
        assert "Server-Timing" not in response.headers


async def test_large_answers_are_compressed_for_gzip_clients(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.get(
        "/call-log-metadata", headers={**USER_HEADERS, "Accept-Encoding": "gzip"}
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert (await response.json())["label"] == "x" * 5000
    response = await client.get(
        "/call-log-metadata", headers={**USER_HEADERS, "Accept-Encoding": "identity"}
    )
    assert "Content-Encoding" not in response.headers


async def test_log_lines_carry_user_id_and_no_full_key(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from integration_bridge.logging import JsonFormatter

    client = await make_client(Failing(ServerError(500, "CRM exploded")))
    with caplog.at_level(logging.INFO):
        await client.get("/account/id", headers=USER_HEADERS)
    lines = [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name.startswith("integration_bridge")
    ]
    assert lines, "expected log lines"
    assert all(line.get("userId") == "user-1" for line in lines)
    assert all(line["apiKey"] == "***" + API_KEY[-(len(API_KEY) // 3) :] for line in lines)
    assert all(API_KEY not in json.dumps(line) for line in lines)


async def test_custom_routes_and_sub_apps(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    routes = web.RouteTableDef()

    @routes.get("/custom")
    async def custom(request: web.Request) -> web.Response:
        return web.Response(text="custom")

    sub = web.Application()

    async def inner(request: web.Request) -> web.Response:
        return web.Response(text="inner")

    sub.router.add_get("/x", inner)
    app = create_app(Failing(RuntimeError()), settings=Settings(), routes=[routes, ("/sub", sub)])
    client = await aiohttp_client(app)
    assert await (await client.get("/custom")).text() == "custom"
    assert await (await client.get("/sub/x")).text() == "inner"


def _sub_app(*middlewares: Any) -> web.Application:
    sub = web.Application(middlewares=middlewares)

    async def inner(request: web.Request) -> web.Response:
        raise RuntimeError("inner")

    sub.router.add_get("/x", inner)
    return sub


@web.middleware
async def _failing_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    raise RuntimeError("sub-application middleware")


async def test_a_sub_apps_own_middlewares_run_inside_the_bridges(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    sub = _sub_app(_failing_middleware)
    app = create_app(Failing(RuntimeError()), settings=Settings(), routes=[("/sub", sub)])
    client = await aiohttp_client(app)
    response = await client.get("/sub/x", headers={"Origin": "https://app.example.com"})
    assert response.status == 500
    assert await response.text() == "Internal Server Error"  # the bridge's answer, not aiohttp's
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


async def test_misses_under_a_sub_apps_prefix_get_the_bridges_answers(
    aiohttp_client: Any,
) -> None:
    settings = Settings(server_timing=True)
    app = create_app(Failing(RuntimeError()), settings=settings, routes=[("/sub", _sub_app())])
    client = await aiohttp_client(app)
    origin = {"Origin": "https://app.example.com"}
    for response in (
        await client.get("/sub", headers=origin),  # the prefix alone is no route
        await client.post("/sub/x", headers=origin),
    ):
        assert response.status in (404, 405)
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response.headers["Server-Timing"].startswith("total;dur=")


async def test_sub_apps_mounted_after_create_app(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    app = create_app(Failing(RuntimeError()), settings=Settings())
    app.add_subapp("/sub", _sub_app())
    client = await aiohttp_client(app)
    response = await client.get("/sub/x", headers={"Origin": "https://app.example.com"})
    assert response.status == 500
    assert await response.text() == "Internal Server Error"
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"

    # With middlewares of their own, they would run outside the bridge's: refused at start.
    app = create_app(Failing(RuntimeError()), settings=Settings())
    app.add_subapp("/sub", _sub_app(_failing_middleware))
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match=r"mounted through create_app\(routes=\.\.\.\)"):
        await runner.setup()
    await app.cleanup()  # what started before the check


async def test_cors_keeps_other_vary_values(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.get(
        "/call-log-metadata",
        headers={**USER_HEADERS, "Origin": "https://app.example.com", "Accept-Encoding": "gzip"},
    )
    vary = {part.strip() for part in response.headers["Vary"].split(",")}
    assert {"Origin", "Accept-Encoding"} <= vary


@pytest.mark.parametrize("origin", ["null", "https://app.example.com\u00a0"])
async def test_cors_never_reflects_null(make_client: ClientFactory, origin: str) -> None:
    client = await make_client(Failing(RuntimeError()))
    for method in ("GET", "OPTIONS"):
        response = await client.request(
            method,
            "/health",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_open_cors_in_production_warns_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from integration_bridge import Settings, create_app

    with caplog.at_level(logging.WARNING):
        create_app(Failing(RuntimeError()), settings=Settings.from_env({"NODE_ENV": "production"}))
    assert any("CORS_ORIGINS" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(
            Failing(RuntimeError()),
            settings=Settings.from_env({"NODE_ENV": "production", "CORS_ORIGINS": "https://a.b"}),
        )
        create_app(Failing(RuntimeError()), settings=Settings.from_env({}))
    assert not any("CORS_ORIGINS" in record.getMessage() for record in caplog.records)


# --- Errors that are the caller's fault: a precise 4xx, logged without a traceback.


def _no_traceback_or_error(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


def _post(body: bytes, *extra: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        b"POST /contacts HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
        + b"".join(line + b"\r\n" for line in extra)
        + f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (b"gzip", b'{"phoneNumbers": []}'),  # not gzip at all
        (b"deflate", b"\x78\x9c garbage"),
        (b"gzip", gzip.compress(b'{"phoneNumbers": []}')[:-12]),  # cut short
        (b"br", b"not brotli"),
    ],
)
async def test_undecodable_content_encoding_is_400(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, encoding: bytes, body: bytes
) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    with caplog.at_level(logging.DEBUG):
        status, _ = await send_raw(client, _post(body, b"Content-Encoding: " + encoding))
    assert status == 400
    assert adapter.calls == 0
    _no_traceback_or_error(caplog)


async def test_a_client_hanging_up_mid_body_is_logged_as_400_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Served as `run` serves (handlers are not cancelled when the client goes)."""
    adapter = Writes()
    runner = web.AppRunner(create_app(adapter, settings=Settings()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with caplog.at_level(logging.DEBUG):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_post(b'{"phoneNu', length=200))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
            for _ in range(200):
                if any("POST /contacts 400" in record.getMessage() for record in caplog.records):
                    break
                await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
    assert any(
        record.getMessage().startswith("[request] POST /contacts 400") for record in caplog.records
    )
    assert any("could not be read" in record.getMessage() for record in caplog.records)
    assert adapter.calls == 0
    _no_traceback_or_error(caplog)


_CHUNKED_START = (
    b"POST /contacts HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
    b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\n{"phone\r\n'
)


@pytest.mark.parametrize(
    "start", [_post(b'{"phone', length=200), _CHUNKED_START], ids=["length", "chunked"]
)
async def test_a_body_that_never_arrives_is_408(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, start: bytes
) -> None:
    adapter = Writes()
    client = await make_client(adapter, body_read_timeout=0.3)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(start)  # and then nothing
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # the server closes the connection
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert adapter.calls == 0
    _no_traceback_or_error(caplog)


async def test_a_slow_but_complete_body_is_fine(make_client: ClientFactory) -> None:
    adapter = Writes()
    client = await make_client(adapter, body_read_timeout=2.0)
    body = b'{"phoneNumbers": []}'
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(_post(b"", length=len(body)))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.01)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert adapter.calls == 1


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b'{"events": {"type": 1}}', b'{"events": [{"x": 1}]}',
     b"\xff\xfe"],
)  # fmt: skip
async def test_malformed_webhook_bodies_are_400(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    client = await aiohttp_client(create_app(DemoBridge(), settings=Settings()))
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/webhook",
            data=body,
            headers={"x-demo-signature": "demo", "Content-Type": "application/json"},
        )
    assert response.status == 400
    assert await response.text() == "Invalid webhook body"
    _no_traceback_or_error(caplog)


async def _login_query(client: Any) -> tuple[str, str]:
    """A real state and code from the fake CRM, and the nonce cookie."""
    response = await client.get("/oauth2/redirect")
    redirect_url = (await response.json())["redirectUrl"]
    cookie = response.cookies["oauth_nonce"].value
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(redirect_url, allow_redirects=False) as authorized,
    ):
        return urlsplit(authorized.headers["Location"]).query, cookie


@pytest.mark.parametrize("route", ["/oauth2/token", "/oauth2/callback"])
async def test_oauth2_without_or_with_forged_or_expired_state_or_cookie(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    bridge = DemoBridge()
    settings = Settings(oauth2_redirect_url="https://app.example/done")
    client = await aiohttp_client(create_app(bridge, settings=settings))
    query, cookie = await _login_query(client)
    attempts = [
        ("", None),  # nothing at all
        ("code=abc", None),  # no state
        ("state=%7B%7D&code=abc", cookie),  # a state this bridge did not issue
        ("state=not-json&code=abc", cookie),
        (query, None),  # no cookie
        (query, cookie + "x"),  # forged cookie
        (query.replace("code=", "code=x"), cookie),  # a made-up code
        ("error=access_denied&state=x", cookie),
    ]
    with caplog.at_level(logging.INFO):
        for attempt, with_cookie in attempts:
            headers = {"Cookie": f"oauth_nonce={with_cookie}"} if with_cookie else {}
            response = await client.get(
                f"{route}?{attempt}", headers=headers, allow_redirects=False
            )
            if route == "/oauth2/token":
                assert 400 <= response.status < 500, (attempt, response.status)
            else:
                assert response.status == 302
                assert response.headers["Location"] == "https://app.example/done"
        # Expired: the cookie outlived its max age.
        assert bridge.oauth is not None
        bridge.oauth.cookie_max_age = -1
        response = await client.get(
            f"{route}?{query}", headers={"Cookie": f"oauth_nonce={cookie}"}, allow_redirects=False
        )
        assert response.status == (401 if route == "/oauth2/token" else 302)
    _no_traceback_or_error(caplog)


async def test_deliberate_server_errors_are_logged_without_traceback(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """GET /oauth2/callback without OAUTH2_REDIRECT_URL: 500 by contract, one plain line."""

    class OAuth(Adapter):
        async def handle_oauth2_callback(self, request: web.Request, response: Any) -> Any:
            raise AssertionError("not reached")

    client = await make_client(OAuth())
    with caplog.at_level(logging.INFO):
        response = await client.get("/oauth2/callback?state=x")
    assert response.status == 500
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "[GET /oauth2/callback] OAuth2 Redirect URL not configured!"
    ]
    assert errors[0].exc_info is None


# --- Hostile request headers: undecodable or control bytes in x-* headers, the Config memo.


class Recording(Adapter):
    """Records every call that reaches it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.calls.append(config.user_id)
        return {"id": "new", **contact.to_wire()}

    async def get_account_id(self, config: Config) -> str:
        self.calls.append(config.user_id)
        return "account"


def _post_contact(header: bytes, value: bytes) -> bytes:
    body = b'{"phoneNumbers": []}'
    return (
        b"POST /contacts HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
        b"x-provider-key: key-0123456789abcdef\r\n"
        + header
        + b": "
        + value
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"x-user-id", b"user\xff\xfe"),  # not UTF-8
        (b"X-User-Id", b"\xc3\x28"),  # a broken two-byte sequence
        (b"x-provider-url", b"https://crm\xc2\x85.example.com"),  # C1 control (NEL)
        (b"x-provider-locale", b"de\tDE"),  # a tab
        (b"x-user-id", b"a\x1bb"),  # ESC: refused by the parser already
        (b"x-anything", b"\xed\xa0\x80"),  # an encoded surrogate is not UTF-8
    ],
)
async def test_undecodable_x_headers_are_400_before_any_handler(
    make_client: ClientFactory, header: bytes, value: bytes
) -> None:
    adapter = Recording()
    client = await make_client(adapter)
    status, _ = await send_raw(client, _post_contact(header, value))
    assert status == 400
    assert adapter.calls == []  # nothing of the request was executed


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"x-provider-key", b"key-of-someone-else"),
        (b"X-Provider-Key", b"key-0123456789abcdef"),  # the same value, another spelling
        (b"x-user-id", b"user-2"),
        (b"x-provider-url", b"http://127.0.0.1:9"),
        (b"x-provider-locale", b"en-US"),
    ],
)
async def test_repeated_identity_headers_are_400_before_any_handler(
    make_client: ClientFactory, header: bytes, value: bytes
) -> None:
    adapter = Recording()
    client = await make_client(adapter)
    first = {b"x-provider-key": b"key-0123456789abcdef"}.get(header.lower(), b"first")
    request = _post_contact(header, value)
    if header.lower() != b"x-provider-key":
        request = request.replace(
            b"x-provider-key:", header + b": " + first + b"\r\nx-provider-key:"
        )
    status, body = await send_raw(client, request)
    assert status == 400, body
    assert f"{header.lower().decode()} given more than once".encode() in body
    assert adapter.calls == []  # neither value was used


async def test_clean_non_ascii_headers_still_work(make_client: ClientFactory) -> None:
    adapter = Recording()
    client = await make_client(adapter)
    status, body = await send_raw(client, _post_contact(b"x-user-id", "jürgen".encode()))
    assert status == 200, body
    assert adapter.calls == ["jürgen"]
    # Other headers are not ours to judge.
    status, _ = await send_raw(client, _post_contact(b"User-Agent", b"caf\xe9"))
    assert status == 200


async def test_the_refused_request_is_still_logged_as_one_json_line(
    make_client: ClientFactory,
) -> None:
    with logged_lines("integration_bridge.http", JsonFormatter()) as stream:
        client = await make_client(Recording())
        status, _ = await send_raw(client, _post_contact(b"x-user-id", b"user\xff"))
    assert status == 400
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    request_lines = [line for line in lines if line["message"].startswith("[request]")]
    assert len(request_lines) == 1
    assert request_lines[0]["status"] == 400
    assert request_lines[0]["userId"] == "user\\udcff"  # escaped, not dropped


async def test_config_memo_is_bounded_in_bytes(make_client: ClientFactory) -> None:
    """Thousands of distinct 8 KB keys do not stay in memory."""
    from integration_bridge import middlewares

    client = await make_client(Recording())
    for index in range(1200):
        key = f"{index:06d}" + "k" * 8000
        response = await client.get("/account/id", headers=headers_with(api_key=key))
        assert response.status == 200
    memo = middlewares._CONFIGS
    assert memo.size <= CONFIG_MEMO_MAX_BYTES
    assert len(memo) < 1200
    # The most recent callers are still shared.
    assert memo.get((USER_ID, f"{1199:06d}" + "k" * 8000, API_URL, "de-DE"))


def test_config_of_shares_one_object_for_equal_headers() -> None:
    from aiohttp.test_utils import make_mocked_request

    first = config_of(make_mocked_request("GET", "/", headers=USER_HEADERS))
    second = config_of(make_mocked_request("GET", "/", headers=USER_HEADERS))
    assert first is second
    assert first.api_key == API_KEY


async def test_config_of_in_a_route_answers_for_the_request_it_is_given(
    aiohttp_client: Any,
) -> None:
    """The request being served gets its own Config; another request object gets its own."""
    from aiohttp.test_utils import make_mocked_request

    routes = web.RouteTableDef()

    @routes.get("/whose")
    async def whose(request: web.Request) -> web.Response:
        other = make_mocked_request("GET", "/", headers=headers_with(user_id="someone-else"))
        return web.json_response([config_of(request).user_id, config_of(other).user_id])

    app = create_app(Failing(RuntimeError()), settings=Settings(), routes=[routes])
    client = await aiohttp_client(app)
    for _ in range(2):  # the second time from the memo of header facts
        response = await client.get("/whose", headers=USER_HEADERS)
        assert await response.json() == [USER_ID, "someone-else"]


async def test_the_header_check_is_the_same_on_every_repeat(make_client: ClientFactory) -> None:
    """The check is memoized per header set: a repeated bad set is refused every time."""
    adapter = Recording()
    client = await make_client(adapter)
    bad = _post_contact(b"x-user-id", b"user\xff\xfe")
    good = _post_contact(b"x-user-id", b"user-1")
    for _ in range(3):
        assert (await send_raw(client, bad))[0] == 400
        assert (await send_raw(client, good))[0] == 200
    assert adapter.calls == ["user-1"] * 3


async def test_header_check_memo_is_bounded_in_bytes(make_client: ClientFactory) -> None:
    """Hundreds of distinct 8 KB header sets do not stay in memory."""
    from integration_bridge import middlewares

    client = await make_client(Recording())
    for index in range(300):
        key = f"{index:06d}" + "k" * 8000
        response = await client.get("/account/id", headers=headers_with(api_key=key))
        assert response.status == 200
    memo = middlewares._HEADER_FACTS
    assert memo.size <= middlewares.HEADER_CHECK_MEMO_MAX_BYTES
    assert 0 < len(memo) < 300
