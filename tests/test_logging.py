"""Log writers never raise, escape what they cannot encode, and never show whole keys."""

from __future__ import annotations

import io
import logging
from typing import Any

import orjson
import pytest

from integration_bridge import Adapter, Config, anonymize_key
from integration_bridge.logging import JsonFormatter, RequestLogWriter, _PlainFormatter
from tests.conftest import ClientFactory, send_raw


def _record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("plain", [False, True])
def test_request_writer_escapes_what_it_cannot_encode(plain: bool) -> None:
    stream = io.BytesIO()
    writer = RequestLogWriter(stream, plain=plain)
    headers = {"x-user-id": "user\udcff\r\nFAKE", "x-provider-key": "k\udcfe" * 20}
    writer.write("GET", "/contacts/a\r\n12:00:00 INFO    forged", 404, 1.0, headers)
    writer.flush()
    data = stream.getvalue()
    assert data.count(b"\n") == 1  # one line: nothing forged
    if plain:
        assert b"\\r\\n" in data and b"\\udcff" in data
    else:
        line = orjson.loads(data)
        assert line["userId"] == "user\\udcff\r\nFAKE"
        assert "forged" in line["message"]


def test_json_formatter_never_raises() -> None:
    formatter = JsonFormatter()

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    lines = [
        formatter.format(_record("bad \udcff text")),
        formatter.format(_record("args %s", "\udcff")),
        formatter.format(_record("%d needs a number", "not a number")),
        formatter.format(_record("odd extra", thing=Unprintable(), surrogate="\udc80")),
    ]
    for line in lines:
        assert "\n" not in line
        orjson.loads(line)


def test_plain_lines_escape_control_characters() -> None:
    line = _PlainFormatter().format(_record("path %s", "/a\r\n00:00:00 ERROR   forged\x1b[31m"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "\\r\\n00:00:00 ERROR" in line


async def test_crlf_in_a_path_cannot_forge_a_plain_line(make_client: ClientFactory) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_PlainFormatter())
    logger = logging.getLogger("integration_bridge.http")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client = await make_client(Adapter())
        status, _ = await send_raw(
            client,
            b"GET /nothing%0d%0a00:00:00%20ERROR%20forged HTTP/1.1\r\nHost: b\r\n"
            b"Connection: close\r\n\r\n",
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert status == 404
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "\\r\\n00:00:00 ERROR forged" in lines[0]


@pytest.mark.parametrize(
    "key",
    ["abcdefghijklmnopqrstuvwxyz0123456789", "short", "ab", "key-0123456789abcdef", "x" * 9],
)
def test_anonymize_key_shows_at_most_a_third(key: str) -> None:
    shown = anonymize_key(key).removeprefix("***")
    assert len(shown) <= len(key) // 3
    assert len(shown) <= 10
    assert key.endswith(shown)
    assert shown != key


def test_anonymize_key_never_shows_the_refresh_half() -> None:
    access, refresh = "acc-" + "a1b2c3d4e5f6a7b8c9", "ref-9f8e7d6c5b4a3f2e1d"
    shown = anonymize_key(f"{access}:{refresh}").removeprefix("***")
    assert shown and access.endswith(shown)
    assert not any(shown[i:] and shown[i:] in refresh for i in range(len(shown) - 2))
    assert anonymize_key(f":{refresh}") == "***"
    assert anonymize_key("") == anonymize_key(None) == "UNKNOWN"


class Counting(Adapter):
    async def get_account_id(self, config: Config) -> str:
        return "a"
