"""A fake CRM HTTP API built per test: routes, paged collections, injected failures, OAuth2.

Bridge tests need a CRM that answers over real HTTP, on loopback, the way a
CRM does: paged lists, bearer tokens, a ``429`` with ``Retry-After`` now and
then, the OAuth2 authorization-code flow. `FakeCrm` is that server; a test
builds the part its bridge talks to::

    crm = FakeCrm()
    crm.collection("/api/contacts", lambda token: [{"id": "1", "name": "Ada"}])
    crm.route("GET", "/api/me", {"accountId": "acme"})
    crm.fail(429, path="/api/contacts", times=2, retry_after=0.01)
    crm.oauth2(client_id="id", client_secret="secret")
    async with crm:                       # serves on 127.0.0.1, a free port
        ...                               # crm.url, crm.requests

Routes may be added while it serves. Every request is recorded in
`FakeCrm.requests`. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self
from urllib.parse import urlencode

from aiohttp import web

from integration_bridge.testing.loopback import LoopbackServer

__all__ = ["Failure", "FakeCrm", "RecordedRequest", "read_token_request"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Items = Iterable[Mapping[str, Any]] | Callable[[str], Iterable[Mapping[str, Any]]]
PageStyle = Literal["page", "cursor"]

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake CRM received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def token(self) -> str | None:
        """The bearer token of the request, if it had one."""
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


@dataclass
class Failure:
    """An injected failure: ``status`` for matching requests (see `FakeCrm.fail`)."""

    status: int
    path: str | None = None
    method: str | None = None
    times: int | None = 1
    every: int | None = None
    retry_after: float | None = None
    body: str = '{"error":"injected failure"}'
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is subject to this failure (before counting it)."""
        return (self.method is None or self.method == method) and (
            self.path is None or _compile(self.path).fullmatch(path) is not None
        )

    def fires(self) -> bool:
        """Count one matching request; True when it must fail."""
        self.seen += 1
        if self.every is not None:
            return self.seen % self.every == 0
        if self.times is None:
            return True
        if self.times > 0:
            self.times -= 1
            return True
        return False


def _compile(pattern: str) -> re.Pattern[str]:
    """``/api/contacts/{id}`` → a regex with one named group per ``{name}`` segment."""
    parts = _PARAM.split(pattern)  # literal, name, literal, name, ..., literal
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


@dataclass
class _OAuth2:
    client_id: str
    client_secret: str
    expires_in: int
    consent: bool = True
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    token_requests: list[str] = field(default_factory=list)


class FakeCrm(LoopbackServer):
    """A fake CRM HTTP API on 127.0.0.1, assembled by the test that uses it.

    Args:
        require_bearer: routes added with ``auth=None`` need an
            ``Authorization: Bearer <token>`` header (401 otherwise).
        accepted_tokens: the bearer tokens accepted; ``None`` accepts any
            non-empty token except ``"invalid"``. Tokens the OAuth2 token
            endpoint issues are always accepted.
    """

    def __init__(
        self, *, require_bearer: bool = True, accepted_tokens: Iterable[str] | None = None
    ) -> None:
        self.require_bearer = require_bearer
        self.accepted_tokens: set[str] | None = (
            None if accepted_tokens is None else set(accepted_tokens)
        )
        self.issued_tokens: set[str] = set()
        self.revoked_tokens: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.failures: list[Failure] = []
        self.stores: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        """The rows of each `collection`: ``stores[path][token][id]``."""
        self.url = ""
        self._routes: list[_Route] = []
        self._oauth2: _OAuth2 | None = None
        self._ids = itertools.count(1000)

    # -- lifecycle ------------------------------------------------------------------

    def app(self) -> web.Application:
        """Every path goes to the routes, collections and failures set up on this fake."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port`` 0: a free port); returns the base URL (also in `url`)."""
        self.url = await super().start(port)
        return self.url

    # -- building -------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        answer: Handler | Any,
        *,
        status: int = 200,
        auth: bool | None = None,
    ) -> Self:
        """Answer ``method path`` with a handler or a fixed JSON value.

        Args:
            method: the HTTP method (``GET``, ``POST``, ...).
            path: the path; ``{name}`` segments match one path segment and
                land in ``request.match_info``.
            answer: an aiohttp handler ``async (request) -> response``, or a
                JSON-serializable value answered with ``status``.
            status: the status of a fixed answer.
            auth: whether a bearer token is needed (default: ``require_bearer``).

        Returns:
            The fake CRM, to chain calls.
        """
        if callable(answer):
            handler: Handler = answer
        else:
            value = answer

            async def handler(_: web.Request) -> web.StreamResponse:
                return web.json_response(value, status=status)

        needs_auth = self.require_bearer if auth is None else auth
        # A later route for the same method and path replaces an earlier one.
        self._routes.insert(0, _Route(method.upper(), _compile(path), handler, needs_auth))
        return self

    def paged(
        self,
        path: str,
        items: Items,
        *,
        style: PageStyle = "page",
        default_page_size: int = 100,
        max_page_size: int = 500,
    ) -> Self:
        """Answer ``GET path`` with a paged list.

        Args:
            path: the list's path.
            items: the items, or a function of the bearer token giving each
                token its own list.
            style: ``"page"``: ``?page=0&pageSize=N`` answers ``{"items": [...],
                "nextPage": n | null}``; ``"cursor"`` (HubSpot's shape):
                ``?after=C&limit=N`` answers ``{"results": [...], "paging":
                {"next": {"after": C}}}`` with ``paging`` absent on the last page.
            default_page_size: the page size when the request names none.
            max_page_size: the largest page size honoured.

        Returns:
            The fake CRM, to chain calls.
        """
        listing = items if callable(items) else _constant(list(items))

        async def handler(request: web.Request) -> web.StreamResponse:
            rows = [dict(row) for row in listing(_token(request))]
            return self._page(request, rows, style, default_page_size, max_page_size)

        return self.route("GET", path, handler)

    def collection(
        self,
        path: str,
        items: Items = (),
        *,
        style: PageStyle = "page",
        default_page_size: int = 100,
    ) -> Self:
        """A CRUD resource per bearer token: paged list, get, create, update, delete.

        ``GET path`` pages as `paged` does; ``GET/PUT/DELETE path/{id}``
        answer 404 for an unknown id; ``POST path`` stores the JSON body with
        a new ``id`` and answers 201; ``DELETE`` answers 204. Each token
        starts with its own copy of ``items`` (or ``items(token)``); the
        stored rows are in `stores`.

        Returns:
            The fake CRM, to chain calls.
        """
        initial = items if callable(items) else _constant(list(items))
        store = self.stores.setdefault(path, {})

        def rows(request: web.Request) -> dict[str, dict[str, Any]]:
            token = _token(request)
            if token not in store:
                store[token] = {str(row["id"]): dict(row) for row in initial(token)}
            return store[token]

        def row(request: web.Request) -> tuple[dict[str, dict[str, Any]], str]:
            book, id = rows(request), request.match_info["id"]
            if id not in book:
                raise web.HTTPNotFound(
                    text='{"error":"not found"}', content_type="application/json"
                )
            return book, id

        async def list_rows(request: web.Request) -> web.StreamResponse:
            return self._page(request, list(rows(request).values()), style, default_page_size, 500)

        async def get_row(request: web.Request) -> web.StreamResponse:
            book, id = row(request)
            return web.json_response(book[id])

        async def create_row(request: web.Request) -> web.StreamResponse:
            body = await _json_object(request)
            created = {**body, "id": str(next(self._ids))}
            rows(request)[created["id"]] = created
            return web.json_response(created, status=201)

        async def update_row(request: web.Request) -> web.StreamResponse:
            book, id = row(request)
            book[id] = {**await _json_object(request), "id": id}
            return web.json_response(book[id])

        async def delete_row(request: web.Request) -> web.StreamResponse:
            book, id = row(request)
            del book[id]
            return web.Response(status=204)

        self.route("GET", path, list_rows)
        self.route("POST", path, create_row)
        self.route("GET", f"{path}/{{id}}", get_row)
        self.route("PUT", f"{path}/{{id}}", update_row)
        self.route("PATCH", f"{path}/{{id}}", update_row)
        return self.route("DELETE", f"{path}/{{id}}", delete_row)

    def fail(
        self,
        status: int,
        *,
        path: str | None = None,
        method: str | None = None,
        times: int | None = 1,
        every: int | None = None,
        retry_after: float | None = None,
    ) -> Failure:
        """Answer matching requests with ``status`` instead of their route.

        Args:
            status: e.g. 429, 500, 503.
            path: a route path pattern to limit it to (default: every path).
            method: an HTTP method to limit it to.
            times: fail the next ``times`` matching requests (``None``: all).
            every: instead, fail every ``every``-th matching request.
            retry_after: a ``Retry-After`` header value in seconds.

        Returns:
            The `Failure`; remove it from `failures` to stop it early.
        """
        failure = Failure(
            status,
            path=path,
            method=method.upper() if method else None,
            times=times,
            every=every,
            retry_after=retry_after,
        )
        self.failures.append(failure)
        return failure

    def oauth2(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str = "test-secret",
        authorize_path: str = "/oauth/authorize",
        token_path: str = "/oauth/token",
        expires_in: int = 3600,
    ) -> Self:
        """Serve an OAuth2 authorization server (authorization-code and refresh grants).

        ``GET authorize_path`` stands for the user's consent page: it redirects
        to ``redirect_uri`` with ``code`` and ``state`` (or with
        ``error=access_denied`` after `decline_consent`). ``POST token_path``
        takes its parameters in the query, a form or JSON (recorded in
        `token_requests`), checks the client credentials and that a code is
        used once, by its client, with its redirect URI, and answers
        ``access_token``, ``refresh_token``, ``token_type``, ``expires_in``.
        Issued access tokens are accepted as bearer tokens.

        Returns:
            The fake CRM, to chain calls.
        """
        self._oauth2 = _OAuth2(client_id, client_secret, expires_in)
        self.authorize_path, self.token_path = authorize_path, token_path
        self.route("GET", authorize_path, self._authorize, auth=False)
        return self.route("POST", token_path, self._token_endpoint, auth=False)

    def decline_consent(self, declined: bool = True) -> None:
        """Let the user decline (or, with False, accept again) at the consent page."""
        self._server().consent = not declined

    @property
    def authorize_url(self) -> str:
        """The authorize endpoint's URL (after `oauth2` and `start`)."""
        self._server()
        return f"{self.url}{self.authorize_path}"

    @property
    def token_url(self) -> str:
        """The token endpoint's URL (after `oauth2` and `start`)."""
        self._server()
        return f"{self.url}{self.token_path}"

    @property
    def token_requests(self) -> list[str]:
        """How each token request sent its parameters: ``query``, ``form`` or ``json``."""
        return self._server().token_requests

    def revoke(self, token: str) -> None:
        """Refuse a bearer token from now on (as a CRM does after logout)."""
        self.revoked_tokens.add(token)

    # -- serving --------------------------------------------------------------------

    def _server(self) -> _OAuth2:
        if self._oauth2 is None:
            raise RuntimeError("call FakeCrm.oauth2() first")
        return self._oauth2

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), dict(request.headers), body
            )
        )
        for failure in self.failures:
            if failure.matches(request.method, request.path) and failure.fires():
                headers = {"Content-Type": "application/json"}
                if failure.retry_after is not None:
                    headers["Retry-After"] = f"{failure.retry_after:g}"
                return web.Response(status=failure.status, text=failure.body, headers=headers)
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed = True
                continue
            if route.auth:
                self._check_bearer(request)
            request.match_info.update(match.groupdict())
            return await route.handler(request)
        if allowed:
            return web.json_response({"error": "method not allowed"}, status=405)
        return web.json_response({"error": "no such route"}, status=404)

    def _check_bearer(self, request: web.Request) -> None:
        token = _token(request)
        if not token:
            raise web.HTTPUnauthorized(
                text='{"error":"missing bearer token"}', content_type="application/json"
            )
        if self.accepted_tokens is None:
            accepted = token != "invalid"
        else:
            accepted = token in self.accepted_tokens or token in self.issued_tokens
        if token in self.revoked_tokens:
            accepted = False
        if not accepted:
            raise web.HTTPUnauthorized(
                text='{"error":"invalid token"}', content_type="application/json"
            )

    @staticmethod
    def _page(
        request: web.Request,
        rows: list[dict[str, Any]],
        style: PageStyle,
        default_size: int,
        max_size: int,
    ) -> web.StreamResponse:
        query = request.query
        try:
            if style == "page":
                start_key, size_key = "page", "pageSize"
                size = min(max_size, int(query.get(size_key, default_size)))
                start = int(query.get(start_key, "0")) * size
            else:
                size = min(max_size, int(query.get("limit", default_size)))
                start = int(query.get("after", "0"))
        except ValueError:
            return web.json_response({"error": "bad paging parameter"}, status=400)
        if size < 1 or start < 0:
            return web.json_response({"error": "bad paging parameter"}, status=400)
        page, more = rows[start : start + size], start + size < len(rows)
        if style == "page":
            return web.json_response(
                {"items": page, "nextPage": start // size + 1 if more else None}
            )
        body: dict[str, Any] = {"results": page}
        if more:
            body["paging"] = {"next": {"after": str(start + size)}}
        return web.json_response(body)

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        server = self._server()
        redirect_uri = request.query.get("redirect_uri")
        if not redirect_uri or request.query.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        client_id = request.query.get("client_id", "")
        if client_id != server.client_id:  # never redirect for an unknown client
            return web.json_response({"error": "unauthorized_client"}, status=400)
        state = request.query.get("state", "")
        if not server.consent:
            query = urlencode({"error": "access_denied", "state": state})
        else:
            code = secrets.token_urlsafe(16)
            server.codes[code] = (client_id, redirect_uri)
            query = urlencode({"code": code, "state": state})
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{query}")

    async def _token_endpoint(self, request: web.Request) -> web.StreamResponse:
        server = self._server()
        params, style = await read_token_request(request)
        server.token_requests.append(style)
        if (params.get("client_id"), params.get("client_secret")) != (
            server.client_id,
            server.client_secret,
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = params.get("grant_type")
        if grant == "authorization_code":
            issued = server.codes.pop(str(params.get("code")), None)
            if issued != (params.get("client_id"), params.get("redirect_uri")):
                return web.json_response({"error": "invalid_grant"}, status=400)
        elif grant == "refresh_token":
            old = server.refresh_tokens.pop(str(params.get("refresh_token")), None)
            if old is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access, refresh = f"acc-{secrets.token_hex(8)}", f"ref-{secrets.token_hex(8)}"
        server.refresh_tokens[refresh] = access
        self.issued_tokens.add(access)
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": server.expires_in,
            }
        )


async def read_token_request(request: web.Request) -> tuple[dict[str, Any], str]:
    """An OAuth2 token request's parameters and how they came.

    Returns:
        The parameters (query, then a form or JSON body) and their style: ``"query"``,
        ``"form"``, ``"json"`` or ``"original-body"`` (JSON ``{"params": {...}}``, the
        original framework's BODY style).

    Raises:
        web.HTTPBadRequest: a JSON body that is not an object.
    """
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await _json_object(request)
        if isinstance(body.get("params"), dict):
            params.update(body["params"])
            return params, "original-body"
        params.update(body)
        return params, "json"
    if request.content_type == "application/x-www-form-urlencoded":
        params.update(await request.post())
        return params, "form"
    return params, "query"


def _constant(rows: list[Mapping[str, Any]]) -> Callable[[str], list[Mapping[str, Any]]]:
    return lambda _token: rows


def _token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error":"expected a JSON object"}', content_type="application/json"
        )
    return body
