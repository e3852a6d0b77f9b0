"""Pagination, retries and rate limits over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from integration_bridge import ServerError, throw_and_delegate_error
from integration_bridge.helpers import (
    HttpError,
    RateLimiter,
    RetryDecision,
    build_url,
    iterate_pages,
    paginate,
    request_with_retry,
    retry_on_status,
)

ITEMS = [{"id": str(n)} for n in range(23)]


class FakeApi:
    """Pages of 10; fails the first ``failures`` requests with ``status``."""

    def __init__(
        self, failures: int = 0, status: int = 503, retry_after: str | None = None
    ) -> None:
        self.failures = failures
        self.status = status
        self.retry_after = retry_after
        self.attempt_headers: list[str | None] = []

    async def items(self, request: web.Request) -> web.Response:
        # The original's header name, spelled out: the CRM side sees exactly this.
        self.attempt_headers.append(request.headers.get("X-SipgateIntegration-RetryCount"))
        if self.failures > 0:
            self.failures -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.json_response({"error": "busy"}, status=self.status, headers=headers)
        page = int(request.query.get("page", "0"))
        chunk = ITEMS[page * 10 : page * 10 + 10]
        return web.json_response({"items": chunk, "more": page * 10 + 10 < len(ITEMS)})


async def serve(aiohttp_server: Any, api: FakeApi) -> str:
    app = web.Application()
    app.router.add_get("/items", api.items)
    server = await aiohttp_server(app)
    return str(server.make_url("/items"))


async def test_paginate_collects_every_page(aiohttp_server: Any) -> None:
    url = await serve(aiohttp_server, FakeApi())
    async with aiohttp.ClientSession() as session:

        async def fetch(page: int) -> Any:
            return (await request_with_retry(session, "GET", url, params={"page": page})).json()

        items = await paginate(
            0,
            fetch,
            lambda page, _: page + 1,
            lambda body: body["items"],
            is_done=lambda body: not body["more"],
        )
    assert items == ITEMS


async def test_iterate_pages_waits_between_pages(aiohttp_server: Any) -> None:
    url = await serve(aiohttp_server, FakeApi())
    async with aiohttp.ClientSession() as session:

        async def fetch(page: int) -> Any:
            return (await request_with_retry(session, "GET", url, params={"page": page})).json()

        started = time.monotonic()
        pages = [
            body
            async for body in iterate_pages(
                0, fetch, lambda p, body: p + 1 if body["more"] else None, page_delay=0.05
            )
        ]
    assert len(pages) == 3
    assert time.monotonic() - started >= 0.1  # two waits between three pages


async def test_page_fetch_retries_on_decision() -> None:
    calls = 0

    async def flaky(page: int) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("reset")
        return [page]

    decisions: list[tuple[str, int]] = []

    def decide(error: BaseException, retries: int) -> RetryDecision:
        decisions.append((type(error).__name__, retries))
        return RetryDecision(retries < 2, 0.0)

    items = await paginate(
        0, flaky, lambda p, _: p + 1 if p < 2 else None, lambda x: x, decide=decide
    )
    assert items == [0, 1, 2]
    assert decisions == [("ConnectionError", 0)]


async def test_retries_count_attempts_in_a_header(aiohttp_server: Any) -> None:
    api = FakeApi(failures=2, status=503)
    url = await serve(aiohttp_server, api)
    async with aiohttp.ClientSession() as session:
        response = await request_with_retry(
            session, "GET", url, decide=retry_on_status(base_delay=0.01)
        )
    assert response.status == 200
    assert api.attempt_headers == ["0", "1", "2"]


async def test_retry_after_is_honoured(aiohttp_server: Any) -> None:
    api = FakeApi(failures=1, status=429, retry_after="0.2")
    url = await serve(aiohttp_server, api)
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        await request_with_retry(session, "GET", url, decide=retry_on_status(base_delay=0.0))
    assert time.monotonic() - started >= 0.2


async def test_gives_up_and_the_error_maps_like_the_original(aiohttp_server: Any) -> None:
    api = FakeApi(failures=10, status=404)
    url = await serve(aiohttp_server, api)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(HttpError) as info:
            await request_with_retry(session, "GET", url, decide=retry_on_status(base_delay=0.01))
    assert len(api.attempt_headers) == 1  # 404 is not retried
    assert info.value.status == 404 and '"busy"' in info.value.response.data
    with pytest.raises(ServerError) as mapped:
        throw_and_delegate_error(info.value, "getContacts", "key")
    assert (mapped.value.status, mapped.value.message) == (452, "entity/not-found")


async def test_max_retries(aiohttp_server: Any) -> None:
    api = FakeApi(failures=10, status=500)
    url = await serve(aiohttp_server, api)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(HttpError):
            await request_with_retry(
                session, "GET", url, decide=retry_on_status(max_retries=2, base_delay=0.01)
            )
    assert api.attempt_headers == ["0", "1", "2"]


async def test_rate_limiter_waits_instead_of_failing() -> None:
    limiter = RateLimiter(5, 0.2)
    started = time.monotonic()
    stamps: list[float] = []

    async def call() -> None:
        await limiter.wait("user-1")
        stamps.append(time.monotonic() - started)

    await asyncio.gather(*(call() for _ in range(15)))
    assert len(stamps) == 15
    assert max(stamps) >= 0.3  # 15 calls at 5 per 0.2 s take at least two more windows
    other = time.monotonic()
    async with limiter.limit("user-2"):  # other keys have their own budget
        pass
    assert time.monotonic() - other < 0.05


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("retry-after", "0.25", 0.25),  # lower-case names (HTTP/2, proxies) are found
        ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past
        ("Retry-After", "soon", 0.01),  # unreadable: the decider's own backoff
        ("Retry-After", "", 0.01),
    ],
)
async def test_retry_after_forms(
    aiohttp_server: Any, header: str, value: str, expected: float
) -> None:
    seen: list[RetryDecision] = []
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.Response(status=429, headers={header: value})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    decide = retry_on_status(base_delay=0.01)

    def recording(error: BaseException, retries: int) -> RetryDecision:
        decision = decide(error, retries)
        assert isinstance(decision, RetryDecision)
        seen.append(decision)
        return decision

    async with aiohttp.ClientSession() as session:
        response = await request_with_retry(
            session, "GET", str(server.make_url("/")), decide=recording
        )
    assert response.text == "ok"
    assert len(seen) == 1 and seen[0].retry
    assert seen[0].delay == pytest.approx(expected, abs=0.01)


async def test_every_attempt_waits_for_the_rate_limiter(aiohttp_server: Any) -> None:
    api = FakeApi(failures=3, status=503)
    url = await serve(aiohttp_server, api)
    limiter = RateLimiter(1, 0.05)  # one call per 50 ms
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await request_with_retry(
            session,
            "GET",
            url,
            decide=lambda error, retries: RetryDecision(True, 0.0),
            limiter=limiter,
            limit_key="user-1",
        )
    assert api.attempt_headers == ["0", "1", "2", "3"]
    assert time.monotonic() - started >= 0.14  # three of the four attempts had to wait


async def test_connection_errors_are_decided_too() -> None:
    decisions: list[tuple[str, int]] = []

    def decide(error: BaseException, retries: int) -> RetryDecision:
        decisions.append((type(error).__name__, retries))
        return RetryDecision(retries < 1, 0.0)

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            # Port 9 on loopback (discard) is closed on test machines.
            await request_with_retry(session, "GET", "http://127.0.0.1:9/", decide=decide)
    assert [retries for _, retries in decisions] == [0, 1]
    assert all(name.startswith("Client") for name, _ in decisions)


async def test_error_messages_keep_credentials_out(aiohttp_server: Any) -> None:
    api = FakeApi(failures=1, status=400)
    url = await serve(aiohttp_server, api)
    secret_url = url.replace("http://", "http://user:pw@") + "?api_key=s3cret"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(HttpError) as info:
            await request_with_retry(session, "GET", secret_url)
    assert "s3cret" not in str(info.value) and "pw" not in str(info.value)
    assert info.value.status == 400


async def test_rate_limiter_keeps_the_most_recent_keys_only() -> None:
    limiter = RateLimiter(1, 60.0, max_keys=2)
    for key in ("a", "b", "c"):  # "a" is the least recently used and is dropped
        await limiter.wait(key)
    await asyncio.wait_for(limiter.wait("a"), 0.5)  # a fresh budget, no 60 s wait
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.wait("c"), 0.05)  # "c" still has to wait


async def test_rate_limiter_use_keeps_a_key_recent() -> None:
    limiter = RateLimiter(1, 60.0, max_keys=2)
    await limiter.wait("a")
    await limiter.wait("b")
    limiter.limit("a")  # "a" used again: now "b" is the least recently used
    await limiter.wait("c")  # drops "b", keeps "a" with its spent budget
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.wait("a"), 0.05)
    await asyncio.wait_for(limiter.wait("b"), 0.5)  # a fresh budget


@pytest.mark.parametrize(
    ("segments", "path"),
    [
        (("contacts", "c6"), "/api/contacts/c6"),
        (("contacts", "c6?x=1"), "/api/contacts/c6%3Fx%3D1"),
        (("contacts", "../../oauth/authorize"), "/api/contacts/..%2F..%2Foauth%2Fauthorize"),
        (("contacts", "a#b", "a%2Fb"), "/api/contacts/a%23b/a%252Fb"),
        (("contacts", "a\\b c", 42), "/api/contacts/a%5Cb%20c/42"),
        (("über",), "/api/%C3%BCber"),
    ],
)
def test_build_url_quotes_every_segment(segments: tuple[object, ...], path: str) -> None:
    url = build_url("https://crm.example.com/api/?ignored=1", *segments)
    assert str(url) == f"https://crm.example.com{path}"
    assert url.raw_path == path
    assert url.query_string == ""
    assert url.host == "crm.example.com"


def test_build_url_query_and_refused_segments() -> None:
    url = build_url("http://127.0.0.1:8080", "contacts", params={"page": 2, "q": "a&b"})
    assert str(url) == "http://127.0.0.1:8080/contacts?page=2&q=a%26b"
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            build_url("https://crm.example.com", "contacts", bad)


async def test_build_url_reaches_exactly_that_resource(aiohttp_server: Any) -> None:
    seen: list[str] = []

    async def contact(request: web.Request) -> web.Response:
        seen.append(request.match_info["id"])
        return web.json_response({"query": dict(request.query)})

    app = web.Application()
    app.router.add_get("/api/contacts/{id}", contact)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        response = await request_with_retry(
            session, "GET", build_url(server.make_url("/api"), "contacts", "c6?x=1#y")
        )
    assert seen == ["c6?x=1#y"]
    assert response.json() == {"query": {}}


class Redirector:
    """``/go`` redirects to ``target``; every request is recorded."""

    def __init__(self) -> None:
        self.target = ""
        self.hits: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        async def go(request: web.Request) -> web.Response:
            self.hits.append((request.method, request.path))
            raise web.HTTPFound(self.target)

        async def landing(request: web.Request) -> web.Response:
            self.hits.append((request.method, request.path))
            return web.json_response({"landed": request.headers.get("Authorization")})

        app = web.Application()
        app.router.add_route("*", "/go", go)
        app.router.add_route("*", "/landing", landing)
        return app


async def test_redirect_to_another_host_is_refused(aiohttp_server: Any) -> None:
    crm, third = Redirector(), Redirector()
    crm_server = await aiohttp_server(crm.app())
    third_server = await aiohttp_server(third.app())
    crm.target = str(third_server.make_url("/landing"))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(HttpError) as info:
            await request_with_retry(
                session,
                "GET",
                crm_server.make_url("/go"),
                headers={"Authorization": "Bearer secret"},
            )
        assert info.value.status == 302
        assert third.hits == []
        assert crm.hits == [("GET", "/go")]  # a refused redirect is not retried
        # Opted in, the redirect is followed (aiohttp drops the Authorization header).
        response = await request_with_retry(
            session,
            "GET",
            crm_server.make_url("/go"),
            headers={"Authorization": "Bearer secret"},
            allow_redirects_to_other_hosts=True,
        )
    assert response.json() == {"landed": None}
    assert third.hits == [("GET", "/landing")]


async def test_redirects_within_the_host_are_followed(aiohttp_server: Any) -> None:
    crm = Redirector()
    server = await aiohttp_server(crm.app())
    crm.target = "/landing"
    async with aiohttp.ClientSession() as session:
        response = await request_with_retry(
            session, "POST", server.make_url("/go"), json={"a": 1}, headers={"Authorization": "t"}
        )
        assert response.json() == {"landed": "t"}
        assert crm.hits == [("POST", "/go"), ("GET", "/landing")]
        crm.target = "/go"  # a loop
        with pytest.raises(HttpError):
            await request_with_retry(session, "GET", server.make_url("/go"))
        none = await request_with_retry(
            session, "GET", server.make_url("/go"), allow_redirects=False
        )
        assert none.status == 302


async def test_a_cursor_api_needs_no_sentinel_for_its_first_page() -> None:
    pages = {None: ([1, 2], "c1"), "c1": ([3], None)}
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        asked.append(cursor)
        return pages[cursor]

    collected = await paginate(None, fetch, lambda cursor, page: page[1], lambda page: page[0])
    assert collected == [1, 2, 3]
    assert asked == [None, "c1"]


async def test_next_request_may_see_how_many_items_were_collected() -> None:
    total = 25  # what the API announces, e.g. in X-Total
    counts: list[int] = []

    async def fetch(page: int) -> list[int]:
        return list(range(page * 10, page * 10 + 10))  # this API never says it is done

    def next_page(page: int, items: list[int], collected: int) -> int | None:
        counts.append(collected)
        return None if collected >= total else page + 1

    collected = await paginate(0, fetch, next_page, lambda items: items)
    assert counts == [10, 20, 30]
    assert len(collected) == 30


async def test_rate_limiter_keys_are_bounded_in_bytes() -> None:
    limiter = RateLimiter(10, 1.0, max_key_bytes=1024 * 1024)
    for index in range(500):
        await limiter.wait(f"{index:04d}" + "k" * 8000)  # 8 KB provider keys
    assert limiter._limiters.size <= 1024 * 1024
    assert len(limiter._limiters) < 500
