"""The middleware chain, outermost first: CORS, then `request_middleware`.

`request_middleware` does, around every handler and in this order: build the
per-request `Config` from the ``x-*`` headers and put the user id in the log
context; time the request (``Server-Timing`` header and one log line); turn
every exception into an answer (the one place where that happens); compress
large answers for clients that accept gzip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from integration_bridge import runtime
from integration_bridge.errors import IntegrationErrorType, ServerError
from integration_bridge.logging import anonymize_key, api_key_var, user_id_var
from integration_bridge.models import Config
from integration_bridge.responses import accepts_gzip

__all__ = ["config_of", "cors_middleware", "request_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_log = logging.getLogger("integration_bridge.http")
_CONFIG: web.RequestKey[Config] = web.RequestKey("integration_bridge.config", Config)
_COMPRESS_MIN_BYTES = 1024
_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


def config_from_headers(request: web.Request) -> Config:
    """The `Config` the ``x-*`` headers describe (missing headers: empty strings)."""
    headers = request.headers
    return Config.model_construct(
        user_id=headers.get("x-user-id", ""),
        api_key=headers.get("x-provider-key", ""),
        api_url=headers.get("x-provider-url", ""),
        locale=headers.get("x-provider-locale") or "de-DE",
    )


def config_of(request: web.Request) -> Config:
    """The `Config` of this request."""
    config = request.get(_CONFIG)
    if config is None:
        config = config_from_headers(request)
        request[_CONFIG] = config
    return config


def _error_response(error: Exception, request: web.Request) -> web.Response:
    if isinstance(error, ServerError):
        status = error.status if error.status >= 400 else 500
        if error.message != IntegrationErrorType.INTEGRATION_REFRESH_ERROR and status >= 500:
            _log.error("[%s %s] %s", request.method, request.path, error.message, exc_info=error)
        return web.Response(status=status, text=error.message, content_type="text/plain")
    _log.error("[%s %s] Unexpected error", request.method, request.path, exc_info=error)
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Config and log context, timing, error answers and compression for one request."""
    config = config_from_headers(request)
    request[_CONFIG] = config
    runtime.activate(request.app)
    user_token = user_id_var.set(config.user_id or None)
    key_token = api_key_var.set(anonymize_key(config.api_key))
    started = time.perf_counter()
    try:
        try:
            response = await handler(request)
        except web.HTTPException as http_error:
            # aiohttp's own answers (404, 405, 413): keep them, but as plain text.
            if http_error.status >= 400:
                response = web.Response(
                    status=http_error.status,
                    text=http_error.text or http_error.reason,
                    content_type="text/plain",
                    headers={k: v for k, v in http_error.headers.items() if k == "Allow"},
                )
            else:
                raise
        except Exception as error:
            response = _error_response(error, request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not response.prepared:
            response.headers["Server-Timing"] = f"total;dur={elapsed_ms:.1f}"
            if (
                isinstance(response, web.Response)
                and response.body is not None
                and "Content-Encoding" not in response.headers
                and isinstance(response.body, bytes)
                and len(response.body) >= _COMPRESS_MIN_BYTES
                and accepts_gzip(request)
            ):
                response.enable_compression(web.ContentCoding.gzip)
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                "[%s] %s %s %d %.1fms",
                "request",
                request.method,
                request.path,
                response.status,
                elapsed_ms,
                extra={"status": response.status, "durationMs": round(elapsed_ms, 1)},
            )
        return response
    finally:
        user_id_var.reset(user_token)
        api_key_var.reset(key_token)


def cors_middleware(
    origins: tuple[str, ...] | None,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """CORS for the given origins (None: any), credentials allowed, origin reflected."""
    allowed = None if origins is None else frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or (allowed is not None and origin not in allowed):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = _PREFLIGHT_METHODS
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
            response.headers["Vary"] = "Origin, Access-Control-Request-Headers"
        else:
            response = await handler(request)
            response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "X-Provider-Key, X-Fetching-State"
        return response

    return middleware
