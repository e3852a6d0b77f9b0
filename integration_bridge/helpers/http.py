"""HTTP helpers on aiohttp's client: pagination, retries, rate limits.

* `iterate_pages` / `paginate`: walk a paginated API with a next-request
  callback, an end-of-data predicate, a delay between pages and a retry
  decision on errors.
* `request_with_retry`: one request, retried while a decider says so; every
  attempt carries its number in a header.
* `RateLimiter`: N calls per interval per key (e.g. per provider key); callers
  wait instead of failing.
* `HttpError`: a failed response with its body, which
  `throw_and_delegate_error` turns into the right answer.
* `build_url`: a CRM URL from a base and path segments, each segment quoted,
  so that an id can never change the path or the query.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote

import aiohttp
from aiolimiter import AsyncLimiter
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from integration_bridge.memo import ByteBoundedLRU
from integration_bridge.retry import (
    NO_RETRY,
    RETRYABLE_STATUSES,
    RetryDecider,
    RetryDecision,
    RetryPolicy,
)

__all__ = [
    "MAX_ERROR_BODY",
    "RETRY_COUNT_HEADER",
    "HttpError",
    "HttpResponse",
    "RateLimiter",
    "RetryDecider",
    "RetryDecision",
    "RetryPolicy",
    "build_url",
    "iterate_pages",
    "paginate",
    "request_with_retry",
    "retry_on_status",
]

RETRY_COUNT_HEADER = "X-SipgateIntegration-RetryCount"
"""The header carrying the retry count (0 on the first try), named as in the original."""

_log = logging.getLogger("integration_bridge.helpers.http")

Req = TypeVar("Req")
Page = TypeVar("Page")
Item = TypeVar("Item")


MAX_REDIRECTS = 10
"""Redirects `request_with_retry` follows for one attempt."""

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_LIMITER_BYTES = 600
"""What one `AsyncLimiter` costs in memory, roughly."""


def build_url(base: str | URL, *segments: object, params: Mapping[str, Any] | None = None) -> URL:
    """``base`` with each of ``segments`` appended as one quoted path segment.

    ``build_url("https://crm.example/api", "contacts", contact_id)`` gives
    ``https://crm.example/api/contacts/<id>`` where every character of the id
    that could change the path or the query (``/``, ``?``, ``#``, ``%`` ...)
    is percent-encoded. Pass the result to aiohttp (or `request_with_retry`)
    as it is: it is already encoded.

    Args:
        base: the CRM's base URL; its own path is kept, its query dropped.
        segments: path segments (ids, names); each is ``str()``-ed and quoted.
        params: the query, encoded by yarl.

    Returns:
        The URL (encoded).

    Raises:
        ValueError: a segment is empty, ``.`` or ``..`` (it would not name a
            resource but move within the path).
    """
    url = URL(base) if isinstance(base, str) else base
    quoted = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):
            raise ValueError(f"not a path segment: {text!r}")
        quoted.append(quote(text, safe=""))
    path = url.raw_path.rstrip("/")
    built = url.with_query(None).with_fragment(None)
    if quoted:
        built = URL.build(
            scheme=built.scheme,
            authority=built.raw_authority,
            path=f"{path}/{'/'.join(quoted)}",
            encoded=True,
        )
    return built.with_query(params) if params else built


def _safe_url(url: str | URL) -> URL:
    """The URL without query, fragment and user info (they may carry credentials)."""
    parsed = URL(url).with_query(None).with_fragment(None)
    return parsed.with_user(None) if parsed.is_absolute() else parsed


@dataclass(frozen=True)
class _ResponseInfo:
    status: int
    data: str
    headers: Mapping[str, str]


MAX_ERROR_BODY = 64 * 1024
"""Characters of a CRM's error body an `HttpError` keeps (the rest is cut off)."""


class HttpError(aiohttp.ClientResponseError):
    """A response with an error status, with a bounded copy of its body.

    ``status`` is the CRM's status; ``body`` its answer as text (at most
    `MAX_ERROR_BODY` characters), also as ``response.data`` for
    `throw_and_delegate_error`; ``json()`` parses it, so a message such as
    "Contact already exists" is not lost. The URL in the message has no query
    or user info (they may carry credentials).
    """

    def __init__(self, method: str, url: str, status: int, body: str, headers: Mapping[str, str]):
        super().__init__(
            request_info=aiohttp.RequestInfo(
                _safe_url(url), method, CIMultiDictProxy(CIMultiDict())
            ),
            history=(),
            status=status,
            message=f"{method} {_safe_url(url)} answered {status}",
        )
        self.body = body[:MAX_ERROR_BODY]
        self.response = _ResponseInfo(status, self.body, headers)

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            ValueError: the body is not JSON (or was cut off).
        """
        import orjson

        return orjson.loads(self.body)


@dataclass(frozen=True)
class HttpResponse:
    """A finished response: status, headers (case-insensitive) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON."""
        import orjson

        return orjson.loads(self.body)


def retry_on_status(
    statuses: Iterable[int] = RETRYABLE_STATUSES,
    *,
    max_retries: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
) -> RetryDecider:
    """A decider: retry these statuses and connection errors, with exponential backoff.

    A shorthand for `RetryPolicy` (the one policy the publisher uses too).

    Args:
        statuses: the response statuses worth another try.
        max_retries: retries after the first attempt; then the error is raised.
        base_delay: seconds before the first retry, doubled for each further one.
        max_delay: the longest wait, also for a ``Retry-After`` header.

    Returns:
        A `RetryDecider`. A ``Retry-After`` header (seconds or an HTTP date)
        wins over the computed delay. Other errors, a malformed URL and a
        refused TLS certificate are never retried.
    """
    return RetryPolicy(
        statuses=frozenset(statuses),
        max_retries=max_retries,
        base_delay=base_delay,
        max_delay=max_delay,
    )


async def _decide(decider: RetryDecider, error: BaseException, retries: int) -> RetryDecision:
    decision = decider(error, retries)
    if inspect.isawaitable(decision):
        decision = await decision
    return decision


async def request_with_retry(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    decide: RetryDecider | None = None,
    retry_header: str | None = RETRY_COUNT_HEADER,
    limiter: RateLimiter | None = None,
    limit_key: str = "",
    allow_redirects_to_other_hosts: bool = False,
    **kwargs: Any,
) -> HttpResponse:
    """Send a request, retrying while ``decide`` says so.

    Args:
        session: the aiohttp client session.
        method: HTTP method.
        url: the URL.
        decide: gets the error (an `HttpError` for a status >= 400, or the
            connection error or timeout) and the number of retries made so far
            (0 after the first attempt failed); defaults to `retry_on_status()`.
            It alone bounds the retries.
        retry_header: header carrying the retry count, 0 on the first attempt
            (None: no header).
        limiter: when given, every attempt (retries too) waits for its turn
            under ``limit_key``.
        limit_key: the rate limit key, e.g. the user's provider key.
        allow_redirects_to_other_hosts: follow redirects to another scheme,
            host or port too. By default only redirects within the origin of
            ``url`` are followed; one elsewhere raises an `HttpError` with the
            redirect status, and the other host is never contacted (a
            redirect must not carry the user's credentials, or a request an
            attacker shaped, to a third host). ``allow_redirects=False`` in
            ``kwargs`` follows none.
        **kwargs: passed to ``session.request`` (``json``, ``data``, ``params``,
            ``headers``, ``timeout`` ...).

    Returns:
        The successful (status < 400) response, with its whole body.

    Raises:
        HttpError: the last error status, once ``decide`` says stop.
        aiohttp.ClientError: the last connection error, likewise.
        TimeoutError: the last timeout, likewise.
    """
    decider = decide or retry_on_status()
    headers = dict(kwargs.pop("headers", None) or {})
    follow = bool(kwargs.pop("allow_redirects", True))
    retries = 0
    while True:
        if retry_header:
            headers[retry_header] = str(retries)
        if limiter is not None:
            await limiter.wait(limit_key)
        try:
            return await _send(
                session,
                method,
                url,
                headers,
                kwargs,
                follow=follow,
                other_hosts=allow_redirects_to_other_hosts,
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            decision = await _decide(decider, error, retries)
            where = f"{method} {_safe_url(url)}"
            status = getattr(error, "status", None)
            if not decision.retry:
                _log.warning(
                    "[requestWithRetry] %s finally failed (%s) after %d retries",
                    where,
                    status or type(error).__name__,
                    retries,
                )
                raise
            _log.info(
                "[requestWithRetry] %s failed (%s), retry %d in %.2f s",
                where,
                status or type(error).__name__,
                retries + 1,
                decision.delay,
            )
        retries += 1
        if decision.delay > 0:
            await asyncio.sleep(decision.delay)


async def _send(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    headers: dict[str, str],
    kwargs: dict[str, Any],
    *,
    follow: bool,
    other_hosts: bool,
) -> HttpResponse:
    """One attempt; redirects followed by hand so that another host is never reached."""
    current = URL(url) if isinstance(url, str) else url
    origin = current.origin() if current.is_absolute() else None
    options = dict(kwargs)
    for _ in range(MAX_REDIRECTS + 1):
        async with session.request(
            method, current, headers=headers, allow_redirects=follow and other_hosts, **options
        ) as response:
            location = response.headers.get("Location")
            if follow and not other_hosts and response.status in _REDIRECT_STATUSES and location:
                target = current.join(URL(location))
                if not target.is_absolute() or target.origin() != origin:
                    raise HttpError(
                        method,
                        str(url),
                        response.status,
                        "Redirect to another host refused",
                        CIMultiDict(response.headers),
                    )
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method = "GET"  # what browsers and aiohttp do; the body is not sent again
                    options = {k: v for k, v in options.items() if k not in ("json", "data")}
                current = target
                continue
            if response.status >= 400:
                # Only the part of an error body that HttpError keeps is read.
                head = await _read_at_most(response, MAX_ERROR_BODY * 4)
                raise HttpError(
                    method,
                    str(url),
                    response.status,
                    head.decode("utf-8", "replace"),
                    CIMultiDict(response.headers),
                )
            body = await response.read()
            return HttpResponse(response.status, CIMultiDict(response.headers), body)
    raise HttpError(
        method, str(url), response.status, f"More than {MAX_REDIRECTS} redirects", CIMultiDict()
    )


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The first ``limit`` bytes of the body (all of it when shorter)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def iterate_pages(
    first_request: Req,
    fetch: Callable[[Req], Awaitable[Page]],
    next_request: Callable[[Req, Page], Req | None],
    *,
    is_done: Callable[[Page], bool] = lambda page: False,
    page_delay: float = 0.0,
    decide: RetryDecider | None = None,
) -> AsyncIterator[Page]:
    """Yield page after page (the original's ``paginateGenerator``).

    Args:
        first_request: what to fetch first (a URL, a cursor, a page number...);
            None is fetched too (a cursor API's first page has no cursor: no
            ``""`` sentinel needed).
        fetch: fetches one page for a request.
        next_request: the request of the next page, or None at the end.
        is_done: True for the last page (checked after yielding it).
        page_delay: seconds to wait between pages (rate-friendly crawling).
        decide: retry decision for a failing ``fetch``; it gets the error and
            the retries made for this page so far (default: never retry).

    Yields:
        Each page, as ``fetch`` returned it.
    """
    request = first_request
    while True:
        retries = 0
        while True:
            try:
                page = await fetch(request)
                break
            except Exception as error:
                decision = await _decide(decide, error, retries) if decide else NO_RETRY
                if not decision.retry:
                    raise
                retries += 1
                await asyncio.sleep(decision.delay)
        yield page
        if is_done(page):
            return
        following = next_request(request, page)
        if following is None:
            return
        request = following
        if page_delay > 0:
            await asyncio.sleep(page_delay)


async def paginate(
    first_request: Req,
    fetch: Callable[[Req], Awaitable[Page]],
    next_request: Callable[[Req, Page], Req | None] | Callable[[Req, Page, int], Req | None],
    items: Callable[[Page], Iterable[Item]],
    *,
    is_done: Callable[[Page], bool] = lambda page: False,
    page_delay: float = 0.0,
    decide: RetryDecider | None = None,
) -> list[Item]:
    """Fetch every page and collect their items (the original's ``paginate``).

    Args:
        first_request: what to fetch first (a URL, a cursor, a page number...).
        fetch: fetches one page for a request, e.g. with `request_with_retry`.
        next_request: gets the request and its page, and, if it takes a third
            argument, how many items were collected so far (this page's
            included: stop when it reaches the total the API announced); the
            next request, or None at the end.
        items: the items of a page, e.g. ``lambda body: body["results"]``.
        is_done: True for the last page, for APIs that say so in the page.
        page_delay: seconds to wait between pages.
        decide: retry decision for a failing ``fetch``; it gets the error and
            the retries made for this page so far (default: never retry).

    Returns:
        The items of all pages, in order.
    """
    collected: list[Item] = []
    follow = cast(Callable[..., Req | None], next_request)
    wants_count = _positional_arity(next_request) >= 3

    def next_of(request: Req, page: Page) -> Req | None:
        if wants_count:
            return follow(request, page, len(collected))
        return follow(request, page)

    async for page in iterate_pages(
        first_request, fetch, next_of, is_done=is_done, page_delay=page_delay, decide=decide
    ):
        collected.extend(items(page))
    return collected


def _positional_arity(function: Callable[..., Any]) -> int:
    """How many positional arguments ``function`` takes (many for ``*args``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return 1_000
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class RateLimiter:
    """At most ``calls`` per ``interval`` seconds for each key; callers wait their turn.

    Each key (e.g. a user's provider key, as CRMs limit per token) gets its own
    `aiolimiter.AsyncLimiter`: a leaky bucket that lets a burst of ``calls``
    through and then one call every ``interval / calls`` seconds. Nothing
    fails; callers wait. Usage::

        limiter = RateLimiter(100, 10.0)  # 100 calls per 10 s per key
        await limiter.wait(config.api_key)
        # or: request_with_retry(..., limiter=limiter, limit_key=config.api_key)

    Args:
        calls: calls allowed per interval.
        interval: the interval in seconds.
        max_keys: the most recently used keys whose limiters are kept; an
            older key starts afresh.
        max_key_bytes: the memory for keys and their limiters; provider keys
            can be kilobytes long, so the count alone does not bound it.
    """

    def __init__(
        self,
        calls: int,
        interval: float,
        *,
        max_keys: int = 10_000,
        max_key_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.calls = calls
        self.interval = interval
        self.max_keys = max_keys
        self._limiters: ByteBoundedLRU[str, AsyncLimiter] = ByteBoundedLRU(
            max_key_bytes, max_entries=max_keys
        )

    def _limiter(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self.calls, self.interval)
            self._limiters.put(key, limiter, len(key) + _LIMITER_BYTES)
        return limiter

    async def wait(self, key: str = "") -> None:
        """Return once a call for ``key`` is allowed."""
        await self._limiter(key).acquire()

    def limit(self, key: str = "") -> AsyncLimiter:
        """``async with limiter.limit(key): ...`` — the same as `wait`, as a context."""
        return self._limiter(key)
