"""Errors that are the caller's fault: a precise 4xx, logged without a traceback."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from examples.demo_bridge import DemoBridge
from integration_bridge import Adapter, Config, ContactTemplate, Settings, create_app
from tests.support import ClientFactory, send_raw


class Writes(Adapter):
    def __init__(self) -> None:
        self.calls = 0

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.calls += 1
        return {"id": "new", **contact.to_wire()}


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


async def test_a_body_that_never_arrives_is_408(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = Writes()
    client = await make_client(adapter, body_read_timeout=0.3)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(_post(b'{"phone', length=200))  # and then nothing
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
