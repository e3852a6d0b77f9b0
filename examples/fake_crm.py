"""A fake CRM HTTP API with an OAuth2 authorization server, for the demo bridge.

Served in-process on 127.0.0.1. Every bearer token owns its own generated
address book. Like real CRMs it pages its contacts, answers some requests
with ``429`` (with ``Retry-After``) or ``503``, and issues tokens through the
authorization-code flow.

The API::

    GET    /api/contacts?page=0&pageSize=100   {"items": [...], "nextPage": 1 | null}
    GET    /api/contacts/{id}                  one contact, 404 when unknown
    POST   /api/contacts                       201 with the stored contact
    PUT    /api/contacts/{id}                  the replaced contact
    DELETE /api/contacts/{id}                  204
    GET    /oauth/authorize                    302 to redirect_uri with code and state
    POST   /oauth/token                        authorization_code and refresh_token grants;
                                               parameters in the query, a form or JSON

Every ``/api`` request needs ``Authorization: Bearer <token>`` (any token but
``invalid``). The token endpoint checks the client credentials and that a
code is used once, by the client it was issued to, with its redirect URI.
"""

from __future__ import annotations

import itertools
import random
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from integration_bridge.testing.fake_crm import read_token_request
from integration_bridge.testing.loopback import LoopbackServer

FIRST_NAMES = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Jonas", "Lena",
    "Leon", "Marie", "Noah", "Olivia", "Paul", "Sophie", "Tom", "Julia", "Lukas", "Mia",
]  # fmt: skip
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Smith", "Johnson", "Brown", "Taylor", "Dubois", "Rossi", "Novak", "Jansen",
]  # fmt: skip
COMPANIES = ["sipgate", "Acme GmbH", "Globex Ltd", "Initech", "Umbrella AG", None]


def _phone(rng: random.Random) -> tuple[str, str]:
    """A realistic (label, number) pair in one of several national styles."""
    style = rng.randrange(7)
    if style == 0:
        return "MOBILE", f"+49 15{rng.randint(1, 9)} {rng.randint(10_000_000, 99_999_999)}"
    if style == 1:
        return "WORK", f"0211 {rng.randint(100_000, 999_999)}"
    if style == 2:
        return "WORK", f"+49 30 {rng.randint(1_000_000, 9_999_999)}"
    if style == 3:
        return "HOME", f"(415) 555-{rng.randint(1000, 9999)}"
    if style == 4:
        return "WORK", f"+44 20 7946 {rng.randint(1000, 9999)}"
    if style == 5:
        return "MOBILE", f"+43 664 {rng.randint(1_000_000, 9_999_999)}"
    return "DIRECTDIAL", str(rng.randint(10, 9999))


def generate_contacts(seed: str, count: int) -> list[dict[str, Any]]:
    """A deterministic address book (camelCase contacts) for one seed."""
    rng = random.Random(seed)
    contacts = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        numbers = [_phone(rng) for _ in range(rng.randint(1, 3))]
        contacts.append(
            {
                "id": f"c{index + 1}",
                "name": None,
                "firstName": first,
                "lastName": last,
                "email": f"{first}.{last}@example.com".lower(),
                "organization": rng.choice(COMPANIES),
                "contactUrl": f"https://crm.example.com/contacts/c{index + 1}",
                "avatarUrl": None,
                "phoneNumbers": [{"label": label, "phoneNumber": n} for label, n in numbers],
            }
        )
    return contacts


class FakeCrm(LoopbackServer):
    """The CRM's state and its aiohttp app."""

    def __init__(
        self,
        *,
        contacts_per_user: int = 300,
        throttle_every: int = 7,
        fail_every: int = 11,
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
    ) -> None:
        self.contacts_per_user = contacts_per_user
        self.throttle_every = throttle_every
        self.fail_every = fail_every
        self.client_id = client_id
        self.client_secret = client_secret
        self.consent = True  # False: the user declines at the authorize page
        self.books: dict[str, dict[str, dict[str, Any]]] = {}
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (client id, redirect URI)
        self.refresh_tokens: dict[str, str] = {}
        self.token_requests: list[str] = []  # "query", "form" or "json", per token request
        self.requests = 0
        self._ids = itertools.count(10_000)
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------

    def app(self) -> web.Application:
        """The CRM as an aiohttp app."""
        app = web.Application()
        app.router.add_get("/api/contacts", self.list_contacts)
        app.router.add_post("/api/contacts", self.create_contact)
        app.router.add_get("/api/contacts/{id}", self.get_contact)
        app.router.add_put("/api/contacts/{id}", self.update_contact)
        app.router.add_delete("/api/contacts/{id}", self.delete_contact)
        app.router.add_get("/oauth/authorize", self.authorize)
        app.router.add_post("/oauth/token", self.token)
        return app

    async def start(self, port: int = 0) -> str:
        """Serve on a free loopback port; returns the base URL (also in `url`)."""
        self.url = await super().start(port)
        return self.url

    # -- the API --------------------------------------------------------------------

    def _book(self, request: web.Request) -> dict[str, dict[str, Any]]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            raise web.HTTPUnauthorized(text='{"error":"missing bearer token"}')
        token = auth[len("Bearer ") :]
        if token == "invalid":
            raise web.HTTPUnauthorized(text='{"error":"invalid token"}')
        book = self.books.get(token)
        if book is None:
            book = {c["id"]: c for c in generate_contacts(token, self.contacts_per_user)}
            self.books[token] = book
        return book

    def _flaky(self) -> None:
        self.requests += 1
        if self.throttle_every and self.requests % self.throttle_every == 0:
            raise web.HTTPTooManyRequests(headers={"Retry-After": "0.05"})
        if self.fail_every and self.requests % self.fail_every == 0:
            raise web.HTTPServiceUnavailable()

    async def list_contacts(self, request: web.Request) -> web.Response:
        """``?page=0&pageSize=100`` → ``{"items": [...], "nextPage": 1 | null}``."""
        self._flaky()
        book = list(self._book(request).values())
        page = int(request.query.get("page", "0"))
        size = min(500, int(request.query.get("pageSize", "100")))
        items = book[page * size : (page + 1) * size]
        more = (page + 1) * size < len(book)
        return web.json_response({"items": items, "nextPage": page + 1 if more else None})

    async def get_contact(self, request: web.Request) -> web.Response:
        """One contact or 404."""
        contact = self._book(request).get(request.match_info["id"])
        if contact is None:
            raise web.HTTPNotFound(text='{"error":"no such contact"}')
        return web.json_response(contact)

    async def create_contact(self, request: web.Request) -> web.Response:
        """Store a contact with a new id."""
        book = self._book(request)
        contact = {**await request.json(), "id": f"c{next(self._ids)}"}
        book[contact["id"]] = contact
        return web.json_response(contact, status=201)

    async def update_contact(self, request: web.Request) -> web.Response:
        """Replace a contact."""
        book = self._book(request)
        id = request.match_info["id"]
        if id not in book:
            raise web.HTTPNotFound(text='{"error":"no such contact"}')
        book[id] = {**await request.json(), "id": id}
        return web.json_response(book[id])

    async def delete_contact(self, request: web.Request) -> web.Response:
        """Remove a contact."""
        if self._book(request).pop(request.match_info["id"], None) is None:
            raise web.HTTPNotFound(text='{"error":"no such contact"}')
        return web.Response(status=204)

    # -- OAuth2 ---------------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.Response:
        """Pretend the user agreed (or declined): redirect back with a code and the state."""
        redirect_uri = request.query.get("redirect_uri")
        if not redirect_uri or request.query.get("response_type") != "code":
            raise web.HTTPBadRequest(text='{"error":"invalid_request"}')
        client_id = request.query.get("client_id", "")
        if client_id != self.client_id:  # never redirect for an unknown client
            raise web.HTTPBadRequest(text='{"error":"unauthorized_client"}')
        state = request.query.get("state", "")
        if not self.consent:
            query = urlencode(
                {"error": "access_denied", "error_description": "declined", "state": state}
            )
            raise web.HTTPFound(f"{redirect_uri}?{query}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = (client_id, redirect_uri)
        raise web.HTTPFound(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    async def token(self, request: web.Request) -> web.Response:
        """Authorization-code and refresh-token grants (query, form or JSON)."""
        params, style = await read_token_request(request)
        self.token_requests.append(style)
        if (params.get("client_id"), params.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = params.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(str(params.get("code")), None)
            if issued != (params.get("client_id"), params.get("redirect_uri")):
                return web.json_response({"error": "invalid_grant"}, status=400)
        elif grant == "refresh_token":
            if str(params.get("refresh_token")) not in self.refresh_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access = f"acc-{secrets.token_hex(8)}"
        refresh = f"ref-{secrets.token_hex(8)}"
        self.refresh_tokens[refresh] = access
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        )
