"""Malformed requests that aiohttp's parser refuses: no secret in the log or the answer."""

from __future__ import annotations

import logging

import pytest

from integration_bridge import Adapter
from integration_bridge.protocol import MALFORMED_REQUEST_TEXT, ProtocolErrorLogger
from tests.support import ClientFactory, send_raw

SECRETS = (b"PROVIDERKEY-s3cr3t", b"BEARER-t0ken", b"COOKIE-v4lue")


@pytest.mark.parametrize(
    "bad_line",
    [
        b"x-provider-key PROVIDERKEY-s3cr3t",  # no colon
        b"Authorization Bearer BEARER-t0ken",
        b"Cookie: session=COOKIE-v4lue\x01",  # a control character
        b"x-provider-key: PROVIDERKEY-s3cr3t\rBEARER-t0ken",  # a bare CR
        b"Cookie : session=COOKIE-v4lue",  # space before the colon
    ],
)
async def test_malformed_header_lines_leak_nothing(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, bad_line: bytes
) -> None:
    client = await make_client(Adapter())
    request = (
        b"GET /health HTTP/1.1\r\nHost: bridge\r\n"
        b"x-provider-key: PROVIDERKEY-s3cr3t\r\nAuthorization: Bearer BEARER-t0ken\r\n"
        + bad_line
        + b"\r\nConnection: close\r\n\r\n"
    )
    with caplog.at_level(logging.DEBUG):
        status, body = await send_raw(client, request)
    assert status == 400
    assert body.decode() == MALFORMED_REQUEST_TEXT
    logged = "\n".join(
        record.getMessage()
        + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
    )
    assert "malformed" in logged.lower()
    for secret in SECRETS:
        assert secret.decode() not in logged
    assert not any(
        record.levelno >= logging.ERROR and record.name == "aiohttp.server"
        for record in caplog.records
    )


async def test_garbage_instead_of_http_leaks_nothing(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(Adapter())
    with caplog.at_level(logging.DEBUG):
        status, body = await send_raw(client, b"PROVIDERKEY-s3cr3t / HTTP/1.1\r\n\r\n")
    assert status == 400
    assert b"PROVIDERKEY" not in body
    assert "PROVIDERKEY" not in caplog.text


def test_other_errors_pass_through_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    logger = ProtocolErrorLogger(logging.getLogger("test.protocol"))
    with caplog.at_level(logging.DEBUG, logger="test.protocol"):
        logger.exception("Unhandled exception", exc_info=RuntimeError("boom"))
        logger.debug("Ignored premature client disconnection")
    error, debug = caplog.records
    assert error.levelno == logging.ERROR and error.exc_info is not None
    assert debug.levelno == logging.DEBUG
