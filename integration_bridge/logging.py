"""Structured log lines: one JSON object per line, with the request's user id.

Every record gets ``severity`` (as Google Cloud Logging reads it), ``userId``
(from the request context) and ``apiKey`` (the anonymized provider key, see
`anonymize_key`; omitted when the request has none). A full key or
token is never formatted into a line by the framework. Warnings and errors go
to stderr, the rest to stdout. With tracing on, lines written inside a traced
request carry Cloud Logging's ``logging.googleapis.com/trace``, ``spanId`` and
``trace_sampled`` fields (`set_trace_fields`).

No writer here ever raises for what a line holds: text that cannot be encoded
(lone surrogates from undecodable request bytes) is written as backslash
escapes, and plain-text lines escape control characters, so that a ``%0d%0a``
in a request path cannot forge a line.

The one line logged per request takes a fast path once `configure_logging`
has run: it is encoded directly (same shape as `JsonFormatter`'s lines) and
written in batches, so that logging stays cheap under load.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import IO, Any

import orjson

__all__ = [
    "JsonFormatter",
    "RequestLogWriter",
    "anonymize_key",
    "configure_logging",
    "context_headers",
    "escape_text",
    "log_request",
    "request_headers_var",
    "set_request_headers_source",
    "set_trace_fields",
]

request_headers_var: ContextVar[Mapping[str, str] | None] = ContextVar(
    "integration_bridge_request_headers", default=None
)
"""Headers (``x-user-id``, ``x-provider-key``) for the log lines of this context, when set
(a contact stream's own); unset, those of the request being handled."""

HeadersSource = Callable[[], Mapping[str, str] | None]
_request_headers: HeadersSource | None = None


def set_request_headers_source(source: HeadersSource | None) -> None:
    """Install where the headers of the request being handled are found (the middleware's).

    The bridge's middleware keeps them in its one request scope, so that a
    request does not also set (and reset) a context variable for its log lines.
    """
    global _request_headers
    _request_headers = source


def context_headers() -> Mapping[str, str] | None:
    """The headers of this context's log lines: `request_headers_var`, else the request's."""
    headers = request_headers_var.get()
    if headers is None and _request_headers is not None:
        headers = _request_headers()
    return headers


_REQUEST_LOGGER = "integration_bridge.http"
_log = logging.getLogger(_REQUEST_LOGGER)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)

# Records are stamped with the request context when they are made, so that a
# handler formatting them later (a queue, a test's capture) still knows whose
# request it was.
_CONTEXT_ATTR = "_ib_headers"
_TRACE_ATTR = "_ib_trace"
_previous_factory = logging.getLogRecordFactory()

TraceFields = Callable[[], dict[str, Any] | None]
_trace_fields: TraceFields | None = None


def set_trace_fields(fields: TraceFields | None) -> None:
    """Install (tracing on) or remove the source of a line's trace correlation fields."""
    global _trace_fields
    _trace_fields = fields


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    setattr(record, _CONTEXT_ATTR, context_headers())
    if _trace_fields is not None:
        setattr(record, _TRACE_ATTR, _trace_fields())
    return record


if getattr(_previous_factory, "__name__", "") != "_record_factory":
    logging.setLogRecordFactory(_record_factory)


def anonymize_key(key: str | None) -> str:
    """``***`` and at most the last 10 characters of a key; ``UNKNOWN`` when absent.

    Never more than a third of the key is shown (short keys: ``***`` alone),
    and for ``<access>:<refresh>`` keys only the end of the access half, never
    any part of the refresh token.
    """
    if not key:
        return "UNKNOWN"
    access = key.split(":", 1)[0]
    shown = min(10, len(access) // 3)
    return "***" + access[len(access) - shown :] if shown > 0 else "***"


# C0 and C1 control characters, DEL and lone surrogates (undecodable bytes).
_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """``text`` with control characters and lone surrogates as backslash escapes."""
    if text.isascii() and text.isprintable():
        return text
    return _UNSAFE_TEXT.sub(_escape_char, text)


def _encodable(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8 (surrogates escaped)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_encodable(str(k)): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


def _json_line(entry: dict[str, Any], option: int = 0) -> bytes:
    """``entry`` as JSON; never raises (unencodable text escaped, odd values as text)."""
    try:
        return orjson.dumps(entry, default=str, option=option)
    except (TypeError, ValueError):
        safe = _encodable({key: _safe_value(value) for key, value in entry.items()})
    try:
        return orjson.dumps(safe, default=_text_of, option=option)
    except (TypeError, ValueError):  # e.g. an int beyond 64 bits deep inside an extra
        fields = {key: escape_text(_text_of(value)) for key, value in safe.items()}
        return orjson.dumps(fields, option=option)


def _safe_value(value: Any) -> Any:
    if value is None or isinstance(value, str | float | bool | dict | list | tuple):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    return _text_of(value)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _message_of(record: logging.LogRecord) -> str:
    """The record's message; a record whose arguments do not fit its format still says something."""
    try:
        return record.getMessage()
    except Exception:
        return f"{record.msg!r} {record.args!r}"


def _context_fields(headers: Mapping[str, str] | None, entry: dict[str, Any]) -> None:
    if headers is not None:
        user_id = headers.get("x-user-id")
        if user_id and "userId" not in entry:
            entry["userId"] = user_id
        api_key = headers.get("x-provider-key")
        if api_key and "apiKey" not in entry:
            entry["apiKey"] = anonymize_key(api_key)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: level, message, userId, apiKey, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        entry: dict[str, Any] = {
            "time": int(record.created * 1000),
            "severity": record.levelname,
            "level": record.levelname.lower(),
            "message": _message_of(record),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        _context_fields(getattr(record, _CONTEXT_ATTR, None), entry)
        trace = getattr(record, _TRACE_ATTR, None)
        if trace:
            entry.update(trace)
        if record.exc_info:
            entry["stack"] = self.formatException(record.exc_info)
        return _json_line(entry).decode()


class _PlainFormatter(logging.Formatter):
    """Readable lines for development: time, level, user, message."""

    def format(self, record: logging.LogRecord) -> str:
        headers = getattr(record, _CONTEXT_ATTR, None)
        user = headers.get("x-user-id") if headers is not None else None
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {escape_text(_message_of(record))}"
        if user:
            line += f" (user {escape_text(user)})"
        if record.exc_info:
            # The traceback's own line breaks stay; text inside it is escaped.
            stack = self.formatException(record.exc_info)
            line += "\n" + "\n".join(escape_text(part) for part in stack.split("\n"))
        return line


class RequestLogWriter:
    """Writes the per-request lines in batches (at most ``delay`` seconds late)."""

    def __init__(
        self, stream: IO[bytes], *, plain: bool = False, delay: float = 0.2, max_bytes: int = 65536
    ) -> None:
        self._stream = stream
        self._plain = plain
        self._delay = delay
        self._max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(
        self,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        headers: Mapping[str, str],
    ) -> None:
        """Add one request's line."""
        message = f"[request] {method} {path} {status} {duration_ms:.1f}ms"
        if self._plain:
            stamp = time.strftime("%H:%M:%S")
            user = headers.get("x-user-id")
            line = f"{stamp} INFO    {escape_text(message)}"
            if user:
                line += f" (user {escape_text(user)})"
            data = (line + "\n").encode("utf-8", "backslashreplace")
        else:
            entry: dict[str, Any] = {
                "time": int(time.time() * 1000),
                "severity": "INFO",
                "level": "info",
                "message": message,
                "logger": _REQUEST_LOGGER,
                "status": status,
                "durationMs": round(duration_ms, 1),
            }
            _context_fields(headers, entry)
            if _trace_fields is not None:
                entry.update(_trace_fields() or ())
            data = _json_line(entry, orjson.OPT_APPEND_NEWLINE)
        self._lines.append(data)
        self._size += len(data)
        if self._size >= self._max_bytes:
            self.flush()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = True
            loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        """Write out what is buffered."""
        self._scheduled = False
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines.clear()
        self._size = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # stdout closed: nothing sensible left to do with a log line


_writer: RequestLogWriter | None = None


def log_request(
    method: str, path: str, status: int, duration_ms: float, headers: Mapping[str, str]
) -> None:
    """Log one handled request (fast path when logging was configured here)."""
    if not _log.isEnabledFor(logging.INFO):
        return
    if _writer is not None:
        _writer.write(method, path, status, duration_ms, headers)
        return
    _log.info(
        "[request] %s %s %d %.1fms",
        method,
        path,
        status,
        duration_ms,
        extra={"status": status, "durationMs": round(duration_ms, 1)},
    )


def configure_logging(level: str = "INFO", *, plain: bool = False) -> None:
    """Send the root logger's lines, as JSON or (``plain``) readable text, to stdout
    (below WARNING) and stderr (warnings and errors)."""
    global _writer
    formatter = _PlainFormatter() if plain else JsonFormatter()
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in (out, err):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would duplicate our request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if _writer is not None:
        _writer.flush()
    _writer = RequestLogWriter(sys.stdout.buffer, plain=plain)
    atexit.register(_writer.flush)
