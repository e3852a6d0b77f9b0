"""Error answers, bad input, CORS, timing and compression."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web

from integration_bridge import Adapter, Config, ContactTemplate, ServerError
from tests.support import USER_HEADERS, ClientFactory


class Failing(Adapter):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def get_account_id(self, config: Config) -> str:
        raise self.error

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        raise AssertionError("must not be reached")

    async def get_call_log_metadata(self, config: Config) -> dict[str, Any]:
        return {"label": "x" * 5000}


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (ServerError(418, "teapot"), 418, "teapot"),
        (ServerError(), 500, "Unknown Error"),
        (ServerError(302, "odd"), 500, "odd"),
        (ServerError(452, "integration/unauthorized-error"), 452, "integration/unauthorized-error"),
        (RuntimeError("secret internals"), 500, "Internal Server Error"),
    ],
)
async def test_errors_become_plain_text_answers(
    make_client: ClientFactory, error: BaseException, status: int, body: str
) -> None:
    client = await make_client(Failing(error))
    response = await client.get("/account/id", headers=USER_HEADERS)
    assert response.status == status
    assert response.content_type == "text/plain"
    assert await response.text() == body


async def test_unexpected_errors_are_logged_with_traceback(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(Failing(RuntimeError("boom")))
    with caplog.at_level(logging.ERROR):
        response = await client.get("/account/id", headers=USER_HEADERS)
    assert await response.text() == "Internal Server Error"  # nothing of it leaks
    logged = [r for r in caplog.records if r.name.startswith("integration_bridge") and r.exc_info]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    exc_info = logged[0].exc_info
    assert exc_info is not None and repr(exc_info[1]) == repr(RuntimeError("boom"))


@pytest.mark.parametrize("body", [b"{not json", b"[1,2", b"\xff\xfe"])
async def test_malformed_json_is_400(make_client: ClientFactory, body: bytes) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post(
        "/contacts", data=body, headers={**USER_HEADERS, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "JSON" in await response.text()


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
async def test_json_that_is_not_an_object_is_400(make_client: ClientFactory, body: Any) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post(
        "/contacts",
        data=json.dumps(body),
        headers={**USER_HEADERS, "Content-Type": "application/json"},
    )
    assert response.status == 400


async def test_empty_body_counts_as_empty_object(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.post("/contacts", headers=USER_HEADERS)
    assert response.status == 400
    assert "phoneNumbers" in await response.text()


async def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), max_body_size=1000)
    response = await client.post(
        "/contacts", data=b'{"a": "' + b"x" * 2000 + b'"}', headers=USER_HEADERS
    )
    assert response.status == 413


async def test_unknown_route_is_404_and_wrong_method_405(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    assert (await client.get("/nope")).status == 404
    response = await client.patch("/contacts")
    assert response.status == 405


async def test_404_and_405_get_cors_and_timing_like_any_answer(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    origin = {"Origin": "https://app.example.com"}
    for response in (
        await client.get("/nope", headers=origin),
        await client.get("/Nope/", headers=origin),
        await client.patch("/contacts", headers=origin),
    ):
        assert response.status in (404, 405)
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response.headers["Server-Timing"].startswith("total;dur=")


async def test_cors_reflects_the_origin(make_client: ClientFactory) -> None:
    client = await make_client(Failing(ServerError(404, "x")))
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    response = await client.get(
        "/account/id", headers={**USER_HEADERS, "Origin": "https://app.example.com"}
    )
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # The front end reads these two from script: they must be exposed.
    exposed = {
        name.strip().lower()
        for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"x-provider-key", "x-fetching-state"} <= exposed


async def test_successful_requests_are_logged(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class Accounts(Adapter):
        async def get_account_id(self, config: Config) -> str:
            return "account-1"

    client = await make_client(Accounts())
    with caplog.at_level(logging.INFO, logger="integration_bridge.http"):
        response = await client.get("/account/id", headers=USER_HEADERS)
        assert response.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "integration_bridge.http"]
    assert any(line.startswith("[request] GET /account/id 200 ") for line in lines), lines


async def test_cors_preflight(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.options(
        "/contacts",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-provider-key, content-type",
        },
    )
    assert 200 <= response.status < 300
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "x-provider-key, content-type"


async def test_cors_origins_can_be_restricted(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()), cors_origins=("https://ok.example",))
    response = await client.get("/health", headers={"Origin": "https://ok.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    response = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_server_timing_header(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.get("/health")
    assert response.headers["Server-Timing"].startswith("total;dur=")


async def test_large_answers_are_compressed_for_gzip_clients(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.get(
        "/call-log-metadata", headers={**USER_HEADERS, "Accept-Encoding": "gzip"}
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert (await response.json())["label"] == "x" * 5000
    response = await client.get(
        "/call-log-metadata", headers={**USER_HEADERS, "Accept-Encoding": "identity"}
    )
    assert "Content-Encoding" not in response.headers


async def test_log_lines_carry_user_id_and_no_full_key(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from integration_bridge.logging import JsonFormatter

    client = await make_client(Failing(ServerError(500, "CRM exploded")))
    with caplog.at_level(logging.INFO):
        await client.get("/account/id", headers=USER_HEADERS)
    lines = [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name.startswith("integration_bridge")
    ]
    assert lines, "expected log lines"
    assert all(line.get("userId") == "user-1" for line in lines)
    key = USER_HEADERS["x-provider-key"]
    assert all(line["apiKey"] == "***" + key[-(len(key) // 3) :] for line in lines)
    assert all(USER_HEADERS["x-provider-key"] not in json.dumps(line) for line in lines)


async def test_custom_routes_and_sub_apps(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    routes = web.RouteTableDef()

    @routes.get("/custom")
    async def custom(request: web.Request) -> web.Response:
        return web.Response(text="custom")

    sub = web.Application()

    async def inner(request: web.Request) -> web.Response:
        return web.Response(text="inner")

    sub.router.add_get("/x", inner)
    app = create_app(Failing(RuntimeError()), settings=Settings(), routes=[routes, ("/sub", sub)])
    client = await aiohttp_client(app)
    assert await (await client.get("/custom")).text() == "custom"
    assert await (await client.get("/sub/x")).text() == "inner"


def _sub_app(*middlewares: Any) -> web.Application:
    sub = web.Application(middlewares=middlewares)

    async def inner(request: web.Request) -> web.Response:
        raise RuntimeError("inner")

    sub.router.add_get("/x", inner)
    return sub


@web.middleware
async def _failing_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    raise RuntimeError("sub-application middleware")


async def test_a_sub_apps_own_middlewares_run_inside_the_bridges(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    sub = _sub_app(_failing_middleware)
    app = create_app(Failing(RuntimeError()), settings=Settings(), routes=[("/sub", sub)])
    client = await aiohttp_client(app)
    response = await client.get("/sub/x", headers={"Origin": "https://app.example.com"})
    assert response.status == 500
    assert await response.text() == "Internal Server Error"  # the bridge's answer, not aiohttp's
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


async def test_sub_apps_mounted_after_create_app(aiohttp_client: Any) -> None:
    from integration_bridge import Settings, create_app

    app = create_app(Failing(RuntimeError()), settings=Settings())
    app.add_subapp("/sub", _sub_app())
    client = await aiohttp_client(app)
    response = await client.get("/sub/x", headers={"Origin": "https://app.example.com"})
    assert response.status == 500
    assert await response.text() == "Internal Server Error"
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"

    # With middlewares of their own, they would run outside the bridge's: refused at start.
    app = create_app(Failing(RuntimeError()), settings=Settings())
    app.add_subapp("/sub", _sub_app(_failing_middleware))
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match=r"mounted through create_app\(routes=\.\.\.\)"):
        await runner.setup()
    await app.cleanup()  # what started before the check


async def test_cors_keeps_other_vary_values(make_client: ClientFactory) -> None:
    client = await make_client(Failing(RuntimeError()))
    response = await client.get(
        "/call-log-metadata",
        headers={**USER_HEADERS, "Origin": "https://app.example.com", "Accept-Encoding": "gzip"},
    )
    vary = {part.strip() for part in response.headers["Vary"].split(",")}
    assert {"Origin", "Accept-Encoding"} <= vary


@pytest.mark.parametrize("origin", ["null", "https://app.example.com\u00a0"])
async def test_cors_never_reflects_null(make_client: ClientFactory, origin: str) -> None:
    client = await make_client(Failing(RuntimeError()))
    for method in ("GET", "OPTIONS"):
        response = await client.request(
            method,
            "/health",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_open_cors_in_production_warns_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from integration_bridge import Settings, create_app

    with caplog.at_level(logging.WARNING):
        create_app(Failing(RuntimeError()), settings=Settings.from_env({"NODE_ENV": "production"}))
    assert any("CORS_ORIGINS" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(
            Failing(RuntimeError()),
            settings=Settings.from_env({"NODE_ENV": "production", "CORS_ORIGINS": "https://a.b"}),
        )
        create_app(Failing(RuntimeError()), settings=Settings.from_env({}))
    assert not any("CORS_ORIGINS" in record.getMessage() for record in caplog.records)
