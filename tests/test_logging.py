"""Log lines: writers never raise, escape what they cannot encode, never show whole keys;
severity, streams and tracebacks as Google Cloud Logging reads them."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from typing import Any

import orjson
import pytest

from integration_bridge import Adapter, Config, anonymize_key, throw_and_delegate_error
from integration_bridge.logging import (
    JsonFormatter,
    RequestLogWriter,
    _PlainFormatter,
    request_headers_var,
)
from integration_bridge.testing import API_KEY_HEADER, USER_ID_HEADER
from tests.support import ClientFactory, logged_lines, send_raw


def _record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("plain", [False, True])
def test_request_writer_escapes_what_it_cannot_encode(plain: bool) -> None:
    stream = io.BytesIO()
    writer = RequestLogWriter(stream, plain=plain)
    headers = {USER_ID_HEADER: "user\udcff\r\nFAKE", API_KEY_HEADER: "k\udcfe" * 20}
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
        formatter.format(_record("big", big=2**70, nested={"n": [2**80, "\udcff"]})),
    ]
    for line in lines:
        assert "\n" not in line
        orjson.loads(line)


def test_plain_lines_escape_control_characters() -> None:
    line = _PlainFormatter().format(_record("path %s", "/a\r\n00:00:00 ERROR   forged\x1b[31m"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "\\r\\n00:00:00 ERROR" in line


async def test_crlf_in_a_path_cannot_forge_a_plain_line(make_client: ClientFactory) -> None:
    with logged_lines("integration_bridge.http", _PlainFormatter()) as stream:
        client = await make_client(Adapter())
        status, _ = await send_raw(
            client,
            b"GET /nothing%0d%0a00:00:00%20ERROR%20forged HTTP/1.1\r\nHost: b\r\n"
            b"Connection: close\r\n\r\n",
        )
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


def _line(record: logging.LogRecord) -> dict[str, object]:
    loaded: dict[str, object] = orjson.loads(JsonFormatter().format(record))
    return loaded


def test_warnings_and_errors_go_to_stderr_the_rest_to_stdout() -> None:
    code = """
import logging
from integration_bridge.logging import configure_logging, log_request
configure_logging("DEBUG")
log = logging.getLogger("bridge")
log.debug("a debug line")
log.info("an info line")
log.warning("a warning line")
log.error("an error line")
log.critical("a critical line")
log_request("GET", "/contacts", 200, 1.5, {"x-user-id": "u"})
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    err = [orjson.loads(line) for line in result.stderr.splitlines()]
    assert [(line["severity"], line["message"]) for line in out if line["logger"] == "bridge"] == [
        ("DEBUG", "a debug line"),
        ("INFO", "an info line"),
    ]
    assert [(line["severity"], line["message"]) for line in err] == [
        ("WARNING", "a warning line"),
        ("ERROR", "an error line"),
        ("CRITICAL", "a critical line"),
    ]
    request = [line for line in out if line["logger"] == "integration_bridge.http"]
    assert request[0]["severity"] == "INFO" and request[0]["userId"] == "u"
    assert "apiKey" not in request[0]


def test_api_key_is_anonymized_when_present_and_omitted_when_absent() -> None:
    log = logging.getLogger("tests.logging")
    token = request_headers_var.set({USER_ID_HEADER: "u1", API_KEY_HEADER: "secret-0123456789"})
    try:
        with_key = _line(log.makeRecord(log.name, logging.INFO, "f", 1, "hello", (), None))
    finally:
        request_headers_var.reset(token)
    token = request_headers_var.set({USER_ID_HEADER: "u1"})
    try:
        without_key = _line(log.makeRecord(log.name, logging.INFO, "f", 1, "hello", (), None))
    finally:
        request_headers_var.reset(token)
    outside = _line(log.makeRecord(log.name, logging.INFO, "f", 1, "hello", (), None))
    assert with_key["apiKey"] == anonymize_key("secret-0123456789")
    assert "apiKey" not in without_key and without_key["userId"] == "u1"
    assert "apiKey" not in outside and "userId" not in outside
    assert with_key["severity"] == "INFO"


class CrmFailure(Exception):
    status = 500


def _crm_call() -> None:
    raise CrmFailure("the CRM broke")


def test_throw_and_delegate_error_logs_the_underlying_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        _crm_call()
    except CrmFailure as error:
        with caplog.at_level(logging.ERROR), pytest.raises(Exception, match="getContacts"):
            throw_and_delegate_error(error, "getContacts", None)
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    line = _line(record)
    assert line["severity"] == "ERROR"
    assert "apiKey" not in line
    stack = str(line["stack"])
    assert "_crm_call" in stack and "CrmFailure: the CRM broke" in stack
