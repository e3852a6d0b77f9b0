"""The original's ``infoLogger``/``warnLogger``/``errorLogger``, on the framework's log lines.

Each writes one line ``[<source>] <message>`` through the ``integration_bridge.bridge``
logger, so it is a JSON line with ``userId`` like every other, and carries the
api key only anonymized (``apiKey``). Extra arguments go into the line's ``data``
field.
"""

from __future__ import annotations

import logging
from typing import Any

from integration_bridge.logging import anonymize_key

__all__ = ["error_logger", "info_logger", "warn_logger"]

_log = logging.getLogger("integration_bridge.bridge")


def _log_line(
    level: int, source: str, message: str, api_key: str | None, args: tuple[Any, ...]
) -> None:
    extra: dict[str, Any] = {}
    if api_key:
        extra["apiKey"] = anonymize_key(api_key)
    if args:
        extra["data"] = [
            arg if isinstance(arg, str | int | float | bool | None) else repr(arg) for arg in args
        ]
    _log.log(level, "[%s] %s", source, message, extra=extra)


def info_logger(source: str, message: str, api_key: str | None = None, *args: Any) -> None:
    """Log an info line ``[<source>] <message>`` (``api_key`` only anonymized)."""
    _log_line(logging.INFO, source, message, api_key, args)


def warn_logger(source: str, message: str, api_key: str | None = None, *args: Any) -> None:
    """Log a warning ``[<source>] <message>`` (stderr; ``api_key`` only anonymized)."""
    _log_line(logging.WARNING, source, message, api_key, args)


def error_logger(source: str, message: str, api_key: str | None = None, *args: Any) -> None:
    """Log an error ``[<source>] <message>`` (stderr; ``api_key`` only anonymized)."""
    _log_line(logging.ERROR, source, message, api_key, args)
