"""Malformed HTTP requests, answered and logged without echoing what they held.

aiohttp's protocol handler answers a request it cannot parse (a header line
without a colon, a bad character) by itself, before any middleware: it logs
the parser's message at ERROR with a traceback, and sends that message as the
400 body. The message quotes the offending line, so a malformed
``x-provider-key``, ``Authorization`` or ``Cookie`` line would land whole in
the log and in the answer. `ProtocolErrorLogger` is given to aiohttp's
protocol handler (``handler_args={"logger": ...}``): for such parse errors it
writes one WARNING line naming only the kind of error, and answers a fixed
400 body instead (the answer is raised as an `web.HTTPBadRequest`, which the
protocol handler sends as it is). Every other record passes through unchanged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

__all__ = [
    "LINGERING_SECONDS",
    "MALFORMED_REQUEST_TEXT",
    "ProtocolErrorLogger",
    "protocol_handler_args",
]

MALFORMED_REQUEST_TEXT = "Bad Request: malformed HTTP request"
"""The whole 400 body for a request aiohttp's parser refused."""

_ERROR_HANDLING = "Error handling request from %s"
_UNHANDLED = "Unhandled exception"


def _parse_error(msg: object, exc_info: Any) -> HttpProcessingError | None:
    if msg != _ERROR_HANDLING:
        return None
    error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
    return error if isinstance(error, HttpProcessingError) else None


def _is_broken_body(exc_info: Any) -> bool:
    error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
    return isinstance(error, RequestPayloadError | HttpProcessingError | ConnectionError)


class ProtocolErrorLogger(logging.LoggerAdapter[logging.Logger]):
    """``aiohttp.server``'s logger, minus the request text of malformed requests."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        """Records pass through unchanged (no extra fields)."""
        return msg, kwargs

    def _refuse(self, error: HttpProcessingError, remote: object, level: int) -> None:
        self.logger.log(
            level,
            "Refused a malformed HTTP request from %s: %s",
            remote,
            type(error).__name__,
        )
        answer = web.HTTPBadRequest(text=MALFORMED_REQUEST_TEXT, content_type="text/plain")
        answer.force_close()
        raise answer

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """Log an error; a parse error is logged redacted and answered with a fixed 400."""
        error = _parse_error(msg, exc_info)
        if error is not None:
            self._refuse(error, args[0] if args else "?", logging.WARNING)
        if msg == _UNHANDLED and _is_broken_body(exc_info):
            # The rest of a body the app already refused (bad encoding, hang-up), read
            # by aiohttp to keep the connection: the answer went out, nothing to report.
            self.logger.debug("Discarded the rest of an unreadable request body")
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Debug lines; aiohttp logs an unknown method there (also redacted and answered)."""
        error = _parse_error(msg, kwargs.get("exc_info"))
        if error is not None:
            self._refuse(error, args[0] if args else "?", logging.DEBUG)
        self.logger.debug(msg, *args, **kwargs)


LINGERING_SECONDS = 1.0
"""How long the rest of a refused body (408, 413, 400) is read and dropped before the
connection closes; aiohttp's default (10 s) lets a client that trickles bytes hold it."""


def protocol_handler_args() -> Mapping[str, Any]:
    """``handler_args`` for `web.Application`: `ProtocolErrorLogger`, short lingering."""
    return {"logger": ProtocolErrorLogger(), "lingering_time": LINGERING_SECONDS}
