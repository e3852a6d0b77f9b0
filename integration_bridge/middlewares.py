"""The bridge's middleware: one `bridge_middleware` per app, its steps in a fixed order.

For every request, in this order: (1) CORS — a preflight is answered at once;
(2) context — the request, what its headers say (`HeaderFacts`: the header
check's verdict, the `Config`, whether gzip is accepted, whether a body is
announced; worked out once per distinct set of headers) and the app go into
`request_scope_var`, where log lines find the user id and key and `runtime`
the app; (3) errors — ``x-*``
headers that are not clean UTF-8 text and path ids (``{id}``, ``{type}``) that
could change a CRM URL are refused (400 before any handler runs), the body is read within
``BODY_READ_TIMEOUT`` (408) and one that cannot be decoded is refused (400,
logged without a traceback), and every exception becomes an answer (the one
place where that happens); (4) timing and compression — the
``Server-Timing`` header (``SERVER_TIMING=true``), gzip for large answers to
clients that accept it, the CORS headers; (5) one log line. Routes get the request's `Config` from
`config_of`.

Why one middleware and not five (CORS, context, errors, compression,
timing/log, each an aiohttp middleware in that order): measured on 2 cores,
the split adds 6 Python calls to every request (101 → 107 for GET /health,
120 → 126 for cached GET /contacts with gzip; aiohttp builds a coroutine per
layer) and 0.5 to 1.6 µs of server CPU per request (/health 40.2 → 40.7 µs,
cached gzip 68.8 → 70.4 µs, against a bare aiohttp server's 31.5 and 44.5 µs)
— 1 to 2 % of the ceiling on the paths the throughput targets are set for. The
steps stay in the order above, each a few lines, in `bridge_middleware`.

Why it runs as part of each route's handler and not as an aiohttp middleware:
an app with any middleware pays aiohttp's middleware machinery on every
request (a `_fix_request_current_app` layer, ``current_app`` read and set
three times, ``apps``, ``route``, an ABC check, the app's hash for its handler
cache): 8 of the 19 Python calls per request that separated GET /health from a
bare aiohttp server (55), and 8 of the 28 on cached GET /contacts with gzip
(``python -m benchmarks.calls``; with the path-id check skipped for routes
without ids: /health 74 → 65, gzip 83 → 74, identity 86 → 77; each call is
about 0.5 µs of server CPU under load, against 27 µs for the whole /health
request of the bare server). So `create_app` hands the middleware to the
router (`TolerantRouter.run_handlers_in`), which wraps each route's handler in
it once, when the app starts (`around_route`), and its 404/405 answers as they
are made: the same steps in the same order for every request, with only tracing
and metrics (aiohttp middlewares, each only when on) outside them. A mounted
sub-application with middlewares of its own keeps the bridge's as an aiohttp
middleware, so that it still runs outside them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import NamedTuple

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict, CIMultiDictProxy, istr

from integration_bridge import runtime
from integration_bridge.appkeys import SETTINGS, Serving
from integration_bridge.cache.contacts import RESERVED_KEY_PREFIXES
from integration_bridge.errors import IntegrationErrorType, ServerError
from integration_bridge.logging import log_request, set_request_headers_source
from integration_bridge.memo import ByteBoundedFIFO, ByteBoundedLRU
from integration_bridge.models import Config
from integration_bridge.responses import accepts_gzip
from integration_bridge.validation import PATH_ID_PARAMS, is_valid_path_id

__all__ = [
    "CONFIG_MEMO_MAX_BYTES",
    "HEADER_CHECK_MEMO_MAX_BYTES",
    "BridgeMiddleware",
    "HeaderFacts",
    "RequestScope",
    "around_route",
    "bridge_middleware",
    "config_of",
    "request_scope_var",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_log = logging.getLogger("integration_bridge.http")
_COMPRESS_MIN_BYTES = 1024
_BODY_READ_TIMEOUT = 30.0
_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"
# Header names as `istr` (as in aiohttp's `hdrs`): a lookup or a store does not case-fold them.
_SERVER_TIMING = istr("Server-Timing")


CONFIG_MEMO_MAX_BYTES = 4 * 1024 * 1024
"""Memory for the per-request `Config` memo (headers are up to 8 KB each)."""

_CONFIGS: ByteBoundedLRU[tuple[str, str, str, str], Config] = ByteBoundedLRU(CONFIG_MEMO_MAX_BYTES)

_RESERVED_KEY_PREFIXES = tuple(prefix.encode() for prefix in RESERVED_KEY_PREFIXES)

_X_PREFIXES = frozenset({b"x-", b"X-"})
# The headers a Config is made of: each at most once (which of two would be the caller?).
_IDENTITY_HEADERS = frozenset(
    {b"x-user-id", b"x-provider-key", b"x-provider-url", b"x-provider-locale"}
)
_IDENTITY_NAMES = tuple(name.decode() for name in sorted(_IDENTITY_HEADERS))
# Control characters (C0, DEL) as bytes: never in a clean header value.
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
# In decoded header text (UTF-8, surrogateescape): C0, DEL, C1 and the stand-ins of bytes
# that are not UTF-8. A value without any of them passes the check's character tests.
_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


HEADER_CHECK_MEMO_MAX_BYTES = 1024 * 1024
"""Memory for the memo of `HeaderFacts` (one entry per distinct set of request headers)."""


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """What a request's headers say, worked out once per distinct set of headers.

    The same callers send the same headers: the facts are kept per header tuple
    (``raw_headers``, of which ``headers`` is the decoded form) in a memo bounded
    in bytes, which the middleware asks first and hands to the routes in the
    `RequestScope`.
    """

    problem: str
    """Why the ``x-*`` headers cannot be used, or "" when they are clean UTF-8 text."""
    config: Config | None
    """The request's `Config` (None when there is a problem)."""
    gzip: bool
    """Whether the client accepts a gzip-encoded answer."""
    body: bool
    """Whether the headers announce a body (``Content-Length`` or ``Transfer-Encoding``)."""


# Oldest first, not least recently used: asked on every request, where a C call is what a
# read should cost; a header set that went is worked out again once.
_HEADER_FACTS: ByteBoundedFIFO[tuple[tuple[bytes, bytes], ...], HeaderFacts] = ByteBoundedFIFO(
    HEADER_CHECK_MEMO_MAX_BYTES
)


class RequestScope(NamedTuple):
    """What the bridge's middleware hands to the routes for the request it runs.

    The one context variable a request sets: its log lines find the request's
    headers here, and `runtime.current_app` its app.
    """

    request: web.Request
    facts: HeaderFacts
    serving: Serving | None
    """The app's `Serving` (None until the app has started)."""
    app: web.Application
    """The bridge's app (the request's own may be a sub-application)."""


# `RequestScope._make`'s own way to build one, without a Python call per request.
_new_scope = tuple.__new__

request_scope_var: ContextVar[RequestScope | None] = ContextVar(
    "integration_bridge_request_scope", default=None
)
"""The `RequestScope` of the request the bridge's middleware runs (routes: `config_of`)."""


def _scope_headers() -> CIMultiDictProxy[str] | None:
    scope = request_scope_var.get()
    return None if scope is None else scope.request.headers


def _scope_app() -> web.Application | None:
    scope = request_scope_var.get()
    return None if scope is None else scope.app


set_request_headers_source(_scope_headers)
runtime.set_request_app_source(_scope_app)


def _header_facts(
    request: web.Request, raw_headers: tuple[tuple[bytes, bytes], ...]
) -> HeaderFacts:
    """Work out and remember the facts of a set of headers not seen recently."""
    headers = request.headers
    values = " ".join(headers.values())
    problem = "" if _plainly_clean(headers, values) else (_check_headers(raw_headers) or "")
    facts = HeaderFacts(
        problem,
        None if problem else _config_from(request),
        accepts_gzip(request),
        hdrs.CONTENT_LENGTH in headers or hdrs.TRANSFER_ENCODING in headers,
    )
    # Charged twice the header text: the key, and the decoded strings the facts hold.
    _HEADER_FACTS.put(raw_headers, facts, 2 * (len(values) + sum(map(len, headers))))
    return facts


def _plainly_clean(headers: CIMultiDictProxy[str], values: str) -> bool:
    """Whether the headers pass `_check_headers` at a glance (False: ask it).

    Callers behind a load balancer send a new trace id with every request, so
    most header sets are new: this looks at all values at once, in C, for any
    character that could fail the check (control characters, C1 controls, the
    stand-ins of bytes that are not UTF-8), and at the identity headers by name.
    """
    if _SUSPECT.search(values) is not None:
        return False
    getall = headers.getall
    for name in _IDENTITY_NAMES:
        if len(getall(name, ())) > 1:
            return False
    return not headers.get("x-provider-key", "").startswith(RESERVED_KEY_PREFIXES)


def _check_headers(raw_headers: tuple[tuple[bytes, bytes], ...]) -> str | None:
    seen: set[bytes] = set()
    for name, value in raw_headers:
        if name[:2] not in _X_PREFIXES:
            continue
        lower = name.lower()
        if lower in _IDENTITY_HEADERS:
            if lower in seen:
                return f"{lower.decode()} given more than once"
            seen.add(lower)
        if value.startswith(_RESERVED_KEY_PREFIXES) and name.lower() == b"x-provider-key":
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


def config_of(request: web.Request) -> Config:
    """The `Config` the request's ``x-*`` headers describe (missing headers: empty strings).

    Configs are immutable, so the same callers share one object: for the request
    the middleware runs, the one its `HeaderFacts` hold; otherwise one from a
    bounded LRU keyed by the four header values (bounded in bytes: building a
    model per request is measurable on the hot path).
    """
    scope = request_scope_var.get()
    if (
        scope is not None
        and scope.request is request
        and (config := scope.facts.config) is not None
    ):
        return config
    return _config_from(request)


def _config_from(request: web.Request) -> Config:
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


class _BodyUnreadable(ServerError):
    """The body could not be decoded or the client hung up: the caller's fault, no traceback."""


async def _read_body(request: web.Request) -> web.Response | None:
    """Read a whole body (up to ``MAX_BODY_SIZE``) within ``BODY_READ_TIMEOUT``.

    Handlers, adapters included, then get it from aiohttp's cache. Returns the
    408 answer when it did not arrive in time; raises a 400 for a body that
    cannot be decoded (bad ``Content-Encoding``) or a client that hung up.
    Multipart bodies are left to the handler, which streams them.
    """
    if request.content_type.startswith("multipart/"):
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
            # A ServerError is a deliberate answer with its reason in the message (and
            # throw_and_delegate_error logged the CRM error already): no traceback, so that
            # a request that is refused the same way every time cannot flood the log.
            _log.error("[%s %s] %s", request.method, request.path, error.message)
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


def _offer_gzip(response: web.StreamResponse, headers: CIMultiDict[str], gzip: bool) -> None:
    """Compress a large body if the client accepts gzip (and say so in Vary either way)."""
    vary = headers.get(hdrs.VARY)
    if not vary or "accept-encoding" not in vary.lower():
        headers[hdrs.VARY] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if gzip:
        response.enable_compression(web.ContentCoding.gzip)


def _cors_origin(origin: str, allowed: frozenset[str] | None) -> str | None:
    """The origin to reflect, or None (not allowed, ``null``, not printable ASCII)."""
    if (
        (allowed is not None and origin not in allowed)
        or origin == "null"
        or not (origin.isascii() and origin.isprintable())
    ):
        return None
    return origin


def _preflight(origin: str, headers: CIMultiDictProxy[str]) -> web.Response:
    response = web.Response(status=204)
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = _PREFLIGHT_METHODS
    requested = headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
    if requested:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = requested
    response.headers[hdrs.VARY] = "Origin, Access-Control-Request-Headers"
    _allow_origin(response, origin)
    return response


def _allow_origin(response: web.StreamResponse, origin: str) -> None:
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = "X-Provider-Key, X-Fetching-State"


Run = Callable[[Handler, bool, bool, web.Request], Awaitable[web.StreamResponse]]
"""The middleware's steps: ``run(handler, path_ids, probe, request)``."""


class BridgeMiddleware:
    """The bridge's middleware of one app: an aiohttp middleware, and `run` for wrapped routes.

    `around_route` binds a route's handler to `run` once (positional arguments: a
    call per request builds no keyword dict); as an aiohttp middleware (an app
    with a sub-application that has middlewares of its own) it checks path ids.
    """

    __slots__ = ("run",)
    __middleware_version__ = 1  # aiohttp's mark of a new-style middleware

    def __init__(self, run: Run) -> None:
        self.run = run

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await self.run(handler, True, _is_probe(request.match_info.route), request)


def _may_have_path_ids(route: web.AbstractRoute) -> bool:
    """Whether ``route``'s ``match_info`` can hold one of `PATH_ID_PARAMS` (unknown: yes)."""
    info = route.get_info()
    pattern = info.get("pattern")
    if isinstance(pattern, re.Pattern):
        return any(name in pattern.groupindex for name in PATH_ID_PARAMS)
    return "path" not in info  # a plain path has no parameters


_PROBE_PATHS = frozenset({"/health"})


def _is_probe(route: web.AbstractRoute) -> bool:
    """Whether ``route`` answers health probes (their successes are not logged)."""
    resource = route.resource
    return resource is not None and resource.canonical in _PROBE_PATHS


def around_route(middleware: BridgeMiddleware, route: web.AbstractRoute) -> Handler:
    """``route``'s handler run inside ``middleware``, as aiohttp's middleware chain runs it.

    Routes whose path has no id parameter skip the path-id check (nothing to check).
    """
    handler = route.handler
    step = partial(middleware.run, handler, _may_have_path_ids(route), _is_probe(route))
    return update_wrapper(step, handler)  # keeps what the handler carries (its OpenAPI operation)


def bridge_middleware(
    app: web.Application,
    origins: tuple[str, ...] | None,
    serving: list[Serving] | None = None,
    *,
    server_timing: bool = False,
) -> BridgeMiddleware:
    """The one middleware of the bridge ``app``, with CORS for ``origins`` (None: any).

    ``serving`` holds the app's `Serving` once it has started (empty before);
    the middleware hands it to the routes in the `RequestScope`. With
    ``server_timing``, every answer says how long the bridge took
    (``Server-Timing: total;dur=<ms>``).

    CORS reflects an allowed origin with credentials allowed; the origin
    ``null`` (sandboxed frames, ``file:`` pages, some redirects) is never
    reflected, nor an origin that is not printable ASCII.
    """
    allowed = None if origins is None else frozenset(origins)
    holder: list[Serving] = [] if serving is None else serving

    async def run(
        handler: Handler, path_ids: bool, probe: bool, request: web.Request
    ) -> web.StreamResponse:
        headers = request.headers
        # 1. CORS: a preflight is answered here, before anything else runs.
        origin = headers.get(hdrs.ORIGIN)
        if origin is not None:
            origin = _cors_origin(origin, allowed)
        if (
            origin is not None
            and request.method == "OPTIONS"
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers
        ):
            return _preflight(origin, headers)
        # 2. Context: what the headers say, and (for every log line) whose request it is
        # and which app serves it.
        raw_headers = request.raw_headers
        facts = _HEADER_FACTS.get(raw_headers)
        if facts is None:
            facts = _header_facts(request, raw_headers)
        scope = _new_scope(RequestScope, (request, facts, holder[0] if holder else None, app))
        scope_token = request_scope_var.set(scope)
        started = time.perf_counter()
        try:
            # 3. Errors: refuse bad x-* headers and path ids, turn exceptions into answers.
            try:
                problem = facts.problem
                if problem:
                    # Nothing of such a request runs: its user id or key would be garbage.
                    raise ServerError(400, f"Invalid x-* header: {problem}")
                match_info = request.match_info if path_ids else None
                if match_info:  # a dict of the path's parameters, empty for most routes
                    for name in PATH_ID_PARAMS:
                        value = match_info.get(name)
                        if value is not None and not is_valid_path_id(value):
                            raise ServerError(400, "Invalid id")
                # A request without either header has no body (RFC 9112, 6.3): most never ask.
                refused = await _read_body(request) if facts.body and request.body_exists else None
                response = await handler(request) if refused is None else refused
            except web.HTTPException as http_error:
                if http_error.status < 400:
                    raise
                response = _plain_http_error(http_error)
            except Exception as error:
                response = _error_response(error, request)
            # 4. Timing and compression, while the answer can still change.
            if not response.prepared:
                response_headers = response.headers
                if server_timing:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    response_headers[_SERVER_TIMING] = f"total;dur={elapsed_ms:.1f}"
                if hdrs.CONTENT_ENCODING not in response_headers:
                    body = getattr(response, "body", None)
                    if isinstance(body, bytes) and len(body) >= _COMPRESS_MIN_BYTES:
                        _offer_gzip(response, response_headers, facts.gzip)
                if origin is not None:
                    vary = response_headers.get(hdrs.VARY)
                    response_headers[hdrs.VARY] = f"{vary}, Origin" if vary else "Origin"
                    _allow_origin(response, origin)
            # 5. The request log line. Health probes come every few seconds from every
            # balancer: only failures are news. Then `log_request`'s first test, asked here
            # (its logger is `_log`): at ERROR, nothing.
            if (not probe or response.status != 200) and _log.isEnabledFor(logging.INFO):
                elapsed_ms = (time.perf_counter() - started) * 1000
                log_request(request.method, request.path, response.status, elapsed_ms, headers)
            return response
        finally:
            request_scope_var.reset(scope_token)

    return BridgeMiddleware(run)
