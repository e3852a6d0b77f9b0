"""Health, token validation, account id and the connected/disconnected events."""

from __future__ import annotations

from aiohttp import web

from integration_bridge.adapter import Adapter
from integration_bridge.appkeys import ADAPTER
from integration_bridge.errors import ServerError
from integration_bridge.middlewares import config_of, request_scope_var
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.responses import (
    TEXT_HEADERS,
    empty_response,
    js_string,
    json_response,
    text_response,
)

__all__ = ["routes"]

routes = web.RouteTableDef()

_BASE_GET_HEALTH = Adapter.get_health


@routes.get("/health")
@documented(
    Operation(
        summary="Liveness: the adapter's `get_health`, when it has one.",
        config=False,
        replies={200: Reply("Healthy: `OK`.", media="text")},
        errors={500: "The adapter's health check raised."},
    )
)
async def health(request: web.Request) -> web.Response:
    """200 ``OK``, after the adapter's `get_health` when it has one."""
    scope = request_scope_var.get()  # set by the middleware: no `app[ADAPTER]` call
    serving = None if scope is None else scope.serving
    adapter = request.app[ADAPTER] if serving is None else serving.adapter
    # `implements`, inlined (the same class lookup): balancers ask every few seconds.
    if getattr(adapter.__class__, "get_health", _BASE_GET_HEALTH) is not _BASE_GET_HEALTH:
        await adapter.get_health()
    return web.Response(body=b"OK", headers=TEXT_HEADERS)  # `text_response("OK")`, inlined


@routes.get("/validate-token")
@documented(
    Operation(
        summary="Whether the provider key is valid.",
        adapter_method="is_valid_token",
        replies={
            200: Reply("Valid: `OK`.", media="text"),
            401: Reply("`Token is not valid`.", media="text"),
        },
    )
)
async def validate_token(request: web.Request) -> web.Response:
    """200 ``OK`` for a valid provider key, 401 otherwise."""
    if not await request.app[ADAPTER].is_valid_token(config_of(request)):
        return text_response("Token is not valid", status=401)
    return text_response("OK")


@routes.get("/account/id")
@documented(
    Operation(
        summary="The CRM account id.",
        adapter_method="get_account_id",
        replies={200: Reply("The account id as a JSON string.", "json", schema={"type": "string"})},
        errors={500: "`AccountID not found`, or the bridge failed."},
    )
)
async def account_id(request: web.Request) -> web.Response:
    """The CRM account id as a JSON string (a number ``12345`` is sent as ``"12345"``)."""
    account = await request.app[ADAPTER].get_account_id(config_of(request))
    if not account:
        raise ServerError(500, "AccountID not found")
    return json_response(js_string(account))


@routes.post("/events/connected")
@documented(
    Operation(
        summary="The user connected the integration.",
        adapter_method="handle_connected_event",
        tag="events",
        replies={200: Reply("Done (empty body).")},
    )
)
async def connected(request: web.Request) -> web.Response:
    """The user connected the integration."""
    await request.app[ADAPTER].handle_connected_event(config_of(request))
    return empty_response()


@routes.post("/events/disconnected")
@documented(
    Operation(
        summary="The user disconnected the integration.",
        adapter_method="handle_disconnected_event",
        tag="events",
        replies={200: Reply("Done (empty body).")},
    )
)
async def disconnected(request: web.Request) -> web.Response:
    """The user disconnected the integration."""
    await request.app[ADAPTER].handle_disconnected_event(config_of(request))
    return empty_response()
