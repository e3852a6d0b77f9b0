"""Hostile request headers: undecodable or control bytes in x-* headers, the Config memo."""

from __future__ import annotations

import io
import logging
from typing import Any

import orjson
import pytest

from integration_bridge import Adapter, Config, ContactTemplate
from integration_bridge.logging import JsonFormatter
from integration_bridge.middlewares import CONFIG_MEMO_MAX_BYTES, config_of
from tests.support import USER_HEADERS, ClientFactory, send_raw


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
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("integration_bridge.http")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client = await make_client(Recording())
        status, _ = await send_raw(client, _post_contact(b"x-user-id", b"user\xff"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
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
        response = await client.get("/account/id", headers={**USER_HEADERS, "x-provider-key": key})
        assert response.status == 200
    memo = middlewares._CONFIGS
    assert memo.size <= CONFIG_MEMO_MAX_BYTES
    assert len(memo) < 1200
    # The most recent callers are still shared.
    assert memo.get(("user-1", f"{1199:06d}" + "k" * 8000, USER_HEADERS["x-provider-url"], "de-DE"))


def test_config_of_shares_one_object_for_equal_headers() -> None:
    from aiohttp.test_utils import make_mocked_request

    first = config_of(make_mocked_request("GET", "/", headers=USER_HEADERS))
    second = config_of(make_mocked_request("GET", "/", headers=USER_HEADERS))
    assert first is second
    assert first.api_key == USER_HEADERS["x-provider-key"]


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
        response = await client.get("/account/id", headers={**USER_HEADERS, "x-provider-key": key})
        assert response.status == 200
    memo = middlewares._HEADER_CHECKS
    assert memo.size <= middlewares.HEADER_CHECK_MEMO_MAX_BYTES
    assert 0 < len(memo) < 300
