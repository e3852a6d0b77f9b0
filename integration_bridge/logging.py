"""Structured log lines: one JSON object per line, with the request's user id.

Every record gets ``userId`` (from the request context) and ``apiKey`` (the
anonymized provider key: ``***`` + its last 10 characters). A full key or
token is never formatted into a line by the framework.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

__all__ = [
    "JsonFormatter",
    "anonymize_key",
    "api_key_var",
    "configure_logging",
    "user_id_var",
]

user_id_var: ContextVar[str | None] = ContextVar("integration_bridge_user_id", default=None)
"""The user id of the request being handled (set by the config middleware)."""

api_key_var: ContextVar[str | None] = ContextVar("integration_bridge_api_key", default=None)
"""The anonymized provider key of the request being handled."""

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)

# Records are stamped with the request context when they are made, so that a
# handler formatting them later (a queue, a test's capture) still knows whose
# request it was.
_USER_ATTR = "_ib_user_id"
_KEY_ATTR = "_ib_api_key"
_previous_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    setattr(record, _USER_ATTR, user_id_var.get())
    setattr(record, _KEY_ATTR, api_key_var.get())
    return record


if getattr(_previous_factory, "__name__", "") != "_record_factory":
    logging.setLogRecordFactory(_record_factory)


def anonymize_key(key: str | None) -> str:
    """``***`` followed by the last 10 characters of a key; ``UNKNOWN`` when absent."""
    if not key:
        return "UNKNOWN"
    return "***" + key[-10:]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: level, message, userId, apiKey, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        entry: dict[str, Any] = {
            "time": int(record.created * 1000),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if "userId" not in entry:
            user_id = getattr(record, _USER_ATTR, None)
            if user_id:
                entry["userId"] = user_id
        if "apiKey" not in entry:
            entry["apiKey"] = getattr(record, _KEY_ATTR, None) or "UNKNOWN"
        if record.exc_info:
            entry["stack"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _PlainFormatter(logging.Formatter):
    """Readable lines for development: time, level, user, message."""

    def format(self, record: logging.LogRecord) -> str:
        user = getattr(record, _USER_ATTR, None)
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {record.getMessage()}"
        if user:
            line += f" (user {user})"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", *, plain: bool = False) -> None:
    """Send the root logger to stdout, as JSON lines or (``plain``) readable text."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_PlainFormatter() if plain else JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log duplicates our timing middleware's line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
