"""`CrmClient`: the one object a bridge keeps per CRM.

It is the original's ``RateLimitedAxios`` with its interceptors, in one
object: an aiohttp session, a base URL, path segments quoted into it
(`build_url`), one retry policy, a rate limit per key, a timeout on every
call, redirects never followed to another host, and errors that carry the
CRM's status and a bounded copy of its body (`HttpError`). Failures another
try cannot fix (a malformed or missing URL, a refused TLS certificate) are
not retried and raised as `CrmRequestError`, worded for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from integration_bridge.helpers.http import (
    RETRY_COUNT_HEADER,
    HttpResponse,
    RateLimiter,
    build_url,
    request_with_retry,
)
from integration_bridge.retry import RetryDecider, RetryPolicy

__all__ = ["CrmClient", "CrmRequestError"]


class CrmRequestError(Exception):
    """A CRM request that could not be sent, and will not be sent again.

    Its message says what is wrong in words a person understands (for example
    ``No CRM URL to call: the base URL is empty (is the x-provider-url header
    set?)``); the aiohttp error is its ``__cause__``.
    """


def _where(url: URL) -> str:
    """A URL fit for a message: no user info, query or fragment."""
    if not url.is_absolute():
        return repr(url.path)
    return str(url.with_user(None).with_query(None).with_fragment(None))


class CrmClient:
    """An aiohttp session for one CRM with every rule of a well-behaved call.

    Usage::

        class MyBridge(Adapter):
            def __init__(self) -> None:
                self.crm = CrmClient(rate_limit=RateLimiter(100, 10.0))

            async def shutdown(self) -> None:
                await self.crm.close()

            async def get_contact(self, config, id, type):
                response = await self.crm.get(
                    "contacts", id,              # each segment quoted
                    base_url=config.api_url,     # or a fixed base_url in the constructor
                    key=config.api_key,          # the rate limit key
                    headers={"Authorization": f"Bearer {config.api_key}"},
                )
                return response.json()

    Args:
        base_url: the CRM's API root; None when it comes with each call
            (``base_url=config.api_url``).
        retry: decides retries (error, retries so far → retry?/delay); default
            `RetryPolicy()` (connection errors, timeouts, 408/429/5xx, three
            retries, exponential backoff, ``Retry-After`` honoured).
        rate_limit: at most N calls per interval per ``key``; every attempt,
            retries included, waits its turn.
        timeout: seconds one attempt may take, redirects included.
        headers: sent with every request (a call's own headers win).
        allow_redirects_to_other_hosts: follow a redirect to another scheme,
            host or port (by default it raises an `HttpError` and the other host
            is never contacted).
        retry_header: the header carrying the retry count (None: none).
        session: an aiohttp session to use (not closed by `close`); by default
            the client opens its own on first use.
    """

    def __init__(
        self,
        base_url: str | URL | None = None,
        *,
        retry: RetryDecider | None = None,
        rate_limit: RateLimiter | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        allow_redirects_to_other_hosts: bool = False,
        retry_header: str | None = RETRY_COUNT_HEADER,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = URL(base_url) if isinstance(base_url, str) else base_url
        self.retry: RetryDecider = retry or RetryPolicy()
        self.rate_limit = rate_limit
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.allow_redirects_to_other_hosts = allow_redirects_to_other_hosts
        self.retry_header = retry_header
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> CrmClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session the client opened (call it from `Adapter.shutdown`)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def url(
        self,
        *segments: object,
        base_url: str | URL | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> URL:
        """The URL of ``segments`` under the base URL, each segment quoted.

        Raises:
            CrmRequestError: there is no usable base URL (empty, or without a
                scheme and host), or a segment is empty, ``.`` or ``..``.
        """
        base = base_url if base_url is not None else self.base_url
        base_url_ = URL(base) if isinstance(base, str) else base
        if base_url_ is None or not str(base_url_):
            raise CrmRequestError(
                "No CRM URL to call: the base URL is empty (is the x-provider-url header set?)"
            )
        if not base_url_.is_absolute() or base_url_.scheme not in ("http", "https"):
            raise CrmRequestError(
                f"Invalid CRM URL {_where(base_url_)}: it needs http(s):// and a host"
            )
        try:
            return build_url(base_url_, *segments, params=params)
        except ValueError as error:
            raise CrmRequestError(f"Invalid CRM URL path: {error}") from None

    async def request(
        self,
        method: str,
        *segments: object,
        base_url: str | URL | None = None,
        url: str | URL | None = None,
        params: Mapping[str, Any] | None = None,
        key: str = "",
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> HttpResponse:
        """Send one request under every rule of the client.

        Args:
            method: the HTTP method.
            segments: path segments under the base URL (ids, names), each quoted.
            base_url: this call's base URL (e.g. ``config.api_url``).
            url: a whole URL instead (e.g. a next-page link the CRM sent); it
                must be absolute.
            params: the query.
            key: the rate limit key, e.g. ``config.api_key``.
            headers: this call's headers.
            **kwargs: passed to aiohttp (``json``, ``data`` ...).

        Returns:
            The successful response, with its whole body.

        Raises:
            HttpError: the CRM answered an error status (after the retries).
            CrmRequestError: the request cannot be sent (bad URL, TLS refused).
            aiohttp.ClientError, TimeoutError: the last connection error or
                timeout, after the retries.
        """
        if url is not None:
            target = URL(url) if isinstance(url, str) else url
            if not target.is_absolute():
                raise CrmRequestError(f"Invalid CRM URL {_where(target)}: it is not absolute")
            if params:
                target = target.update_query(params)
        else:
            target = self.url(*segments, base_url=base_url, params=params)
        try:
            return await request_with_retry(
                self._session_now(),
                method,
                target,
                decide=self.retry,
                retry_header=self.retry_header,
                limiter=self.rate_limit,
                limit_key=key,
                allow_redirects_to_other_hosts=self.allow_redirects_to_other_hosts,
                headers={**self.headers, **(headers or {})},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                **kwargs,
            )
        except aiohttp.InvalidURL as error:
            raise CrmRequestError(
                f"Invalid CRM URL {_where(target)}: aiohttp cannot send a request to it"
            ) from error
        except aiohttp.ClientSSLError as error:
            raise CrmRequestError(
                f"The TLS connection to {target.host} was refused ({_tls_reason(error)}); "
                "check the CRM URL and its certificate"
            ) from error

    async def get(self, *segments: object, **kwargs: Any) -> HttpResponse:
        """``request("GET", ...)``."""
        return await self.request("GET", *segments, **kwargs)

    async def post(self, *segments: object, **kwargs: Any) -> HttpResponse:
        """``request("POST", ...)``."""
        return await self.request("POST", *segments, **kwargs)

    async def put(self, *segments: object, **kwargs: Any) -> HttpResponse:
        """``request("PUT", ...)``."""
        return await self.request("PUT", *segments, **kwargs)

    async def patch(self, *segments: object, **kwargs: Any) -> HttpResponse:
        """``request("PATCH", ...)``."""
        return await self.request("PATCH", *segments, **kwargs)

    async def delete(self, *segments: object, **kwargs: Any) -> HttpResponse:
        """``request("DELETE", ...)``."""
        return await self.request("DELETE", *segments, **kwargs)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session


def _tls_reason(error: aiohttp.ClientSSLError) -> str:
    """The certificate problem in a few words (aiohttp's text repeats the whole address)."""
    certificate_error = getattr(error, "certificate_error", None)
    reason = getattr(certificate_error, "verify_message", None) or getattr(
        certificate_error, "reason", None
    )
    return str(reason or type(error).__name__)
