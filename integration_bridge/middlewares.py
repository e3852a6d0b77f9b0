"""The middleware chain, outermost first: CORS, then `request_middleware`.

`request_middleware` does, around every handler and in this order: put the
request's headers (user id, provider key) in the log context and its app in
`runtime`; time the request (``Server-Timing`` header and one log line); refuse
``x-*`` headers that are not clean UTF-8 text and path ids (``{id}``,
``{type}``) that could change a CRM URL (400 before any handler runs); read
the body within ``BODY_READ_TIMEOUT`` (408) and refuse one that cannot be
decoded (400, logged without a traceback);
turn every exception into an answer (the one place where that happens);
compress large answers for clients that accept gzip. The per-request `Config`
is built from the ``x-*`` headers on first use (`config_of`), through a memo
bounded in bytes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from integration_bridge import runtime
from integration_bridge.appkeys import SETTINGS
from integration_bridge.cache.contacts import RESERVED_KEY_PREFIXES
from integration_bridge.errors import IntegrationErrorType, ServerError
from integration_bridge.logging import log_request, request_headers_var
from integration_bridge.memo import ByteBoundedLRU
from integration_bridge.models import Config
from integration_bridge.responses import accepts_gzip
from integration_bridge.validation import PATH_ID_PARAMS, is_valid_path_id

__all__ = ["CONFIG_MEMO_MAX_BYTES", "config_of", "cors_middleware", "request_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_log = logging.getLogger("integration_bridge.http")
_CONFIG: web.RequestKey[Config] = web.RequestKey("integration_bridge.config", Config)
_COMPRESS_MIN_BYTES = 1024
_BODY_READ_TIMEOUT = 30.0
_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


CONFIG_MEMO_MAX_BYTES = 4 * 1024 * 1024
"""Memory for the per-request `Config` memo (headers are up to 8 KB each)."""

_CONFIGS: ByteBoundedLRU[tuple[str, str, str, str], Config] = ByteBoundedLRU(CONFIG_MEMO_MAX_BYTES)

_RESERVED_KEY_PREFIXES = tuple(prefix.encode() for prefix in RESERVED_KEY_PREFIXES)

# Control characters (C0, DEL) as bytes: never in a clean header value.
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")


def _header_problem(request: web.Request) -> str | None:
    """Why the ``x-*`` headers cannot be used, or None when they are clean UTF-8 text."""
    for name, value in request.raw_headers:
        if name[:2].lower() != b"x-":
            continue
        if name.lower() == b"x-provider-key" and value.startswith(_RESERVED_KEY_PREFIXES):
            return "x-provider-key with a reserved prefix"
        if _CONTROL_BYTES.search(value):
            return "control character"
        if not value.isascii():
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                return "bytes that are not UTF-8"
            if any(0x80 <= ord(char) <= 0x9F for char in text):
                return "control character"
    return None


def _config_from_headers(request: web.Request) -> Config:
    """The `Config` the ``x-*`` headers describe (missing headers: empty strings).

    Configs are immutable, so the same callers share one object (a memo bounded
    in bytes: building a model per request is measurable on the hot path).
    """
    headers = request.headers
    key = (
        headers.get("x-user-id", ""),
        headers.get("x-provider-key", ""),
        headers.get("x-provider-url", ""),
        headers.get("x-provider-locale") or "de-DE",
    )
    config = _CONFIGS.get(key)
    if config is None:
        config = Config.model_construct(
            user_id=key[0], api_key=key[1], api_url=key[2], locale=key[3]
        )
        _CONFIGS.put(key, config, sum(len(part) for part in key) + 400)
    return config


def config_of(request: web.Request) -> Config:
    """The `Config` of this request."""
    config = request.get(_CONFIG)
    if config is None:
        config = _config_from_headers(request)
        request[_CONFIG] = config
    return config


class _BodyUnreadable(ServerError):
    """The body could not be decoded or the client hung up: the caller's fault, no traceback."""


async def _read_body(request: web.Request) -> web.Response | None:
    """Read the whole body (up to ``MAX_BODY_SIZE``) within ``BODY_READ_TIMEOUT``.

    Handlers, adapters included, then get it from aiohttp's cache. Returns the
    408 answer when it did not arrive in time; raises a 400 for a body that
    cannot be decoded (bad ``Content-Encoding``) or a client that hung up.
    Multipart bodies are left to the handler, which streams them.
    """
    if not request.body_exists or request.content_type.startswith("multipart/"):
        return None
    settings = request.config_dict.get(SETTINGS)
    timeout = settings.body_read_timeout if settings is not None else _BODY_READ_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            await request.read()
    except TimeoutError:
        answer = web.Response(
            status=408, text="Request body not received in time", content_type="text/plain"
        )
        answer.force_close()
        return answer
    except (RequestPayloadError, HttpProcessingError, ConnectionError) as error:
        raise _BodyUnreadable(
            400, f"Request body could not be read ({type(error).__name__})"
        ) from None
    return None


def _error_response(error: Exception, request: web.Request) -> web.Response:
    if isinstance(error, _BodyUnreadable):
        _log.warning("[%s %s] %s", request.method, request.path, error.message)
    if isinstance(error, ServerError):
        status = error.status if error.status >= 400 else 500
        if error.message != IntegrationErrorType.INTEGRATION_REFRESH_ERROR and status >= 500:
            _log.error("[%s %s] %s", request.method, request.path, error.message, exc_info=error)
        return web.Response(status=status, text=error.message, content_type="text/plain")
    _log.error("[%s %s] Unexpected error", request.method, request.path, exc_info=error)
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")


def _plain_http_error(error: web.HTTPException) -> web.Response:
    """aiohttp's own answers (404, 405, 413), as plain text like ours."""
    response = web.Response(
        status=error.status, text=error.text or error.reason, content_type="text/plain"
    )
    allow = error.headers.get("Allow")
    if allow is not None:
        response.headers["Allow"] = allow
    return response


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log context, timing, error answers and compression for one request."""
    headers = request.headers
    context_token = request_headers_var.set(headers)
    app_token = runtime.request_app_var.set(request.app)
    started = time.perf_counter()
    try:
        try:
            problem = _header_problem(request)
            if problem is not None:
                # Nothing of such a request runs: its user id or key would be garbage.
                raise ServerError(400, f"Invalid x-* header: {problem}")
            match_info = request.match_info
            for name in PATH_ID_PARAMS:
                value = match_info.get(name)
                if value is not None and not is_valid_path_id(value):
                    raise ServerError(400, "Invalid id")
            refused = await _read_body(request)
            response = await handler(request) if refused is None else refused
        except web.HTTPException as http_error:
            if http_error.status < 400:
                raise
            response = _plain_http_error(http_error)
        except Exception as error:
            response = _error_response(error, request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not response.prepared:
            response.headers["Server-Timing"] = f"total;dur={elapsed_ms:.1f}"
            body = getattr(response, "body", None)
            if (
                isinstance(body, bytes)
                and len(body) >= _COMPRESS_MIN_BYTES
                and "Content-Encoding" not in response.headers
            ):
                vary = response.headers.get("Vary")
                if not vary or "accept-encoding" not in vary.lower():
                    response.headers["Vary"] = (
                        f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
                    )
                if accepts_gzip(request):
                    response.enable_compression(web.ContentCoding.gzip)
        if response.status != 200 or request.path != "/health":
            # Health probes come every few seconds from every balancer: only failures are news.
            log_request(request.method, request.path, response.status, elapsed_ms, headers)
        return response
    finally:
        request_headers_var.reset(context_token)
        runtime.request_app_var.reset(app_token)


def cors_middleware(
    origins: tuple[str, ...] | None,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """CORS for the given origins (None: any), credentials allowed, origin reflected.

    The origin ``null`` (sandboxed frames, ``file:`` pages, some redirects) is
    never reflected, nor an origin that is not printable ASCII.
    """
    allowed = None if origins is None else frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if (
            origin is None
            or (allowed is not None and origin not in allowed)
            or origin == "null"
            or not (origin.isascii() and origin.isprintable())
        ):
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
            vary = response.headers.get("Vary")
            response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "X-Provider-Key, X-Fetching-State"
        return response

    return middleware
