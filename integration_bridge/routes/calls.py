"""Call events and call logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from integration_bridge.adapter import require
from integration_bridge.appkeys import ADAPTER
from integration_bridge.middlewares import config_of
from integration_bridge.models import (
    CallEvent,
    CallEventWithIntegrationEntities,
    CallParticipantType,
    IntegrationDefinedOptions,
    LoggedIntegrationEntity,
)
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.responses import (
    as_returned,
    empty_response,
    json_response,
    read_model,
    text_response,
)

__all__ = ["routes", "should_skip_call_event"]

routes = web.RouteTableDef()

_DIRECT_DIAL_MAX = 5
_INVALID_EVENT = "Invalid call event received"


def should_skip_call_event(event: CallEvent) -> bool:
    """True when a remote participant's raw number is a direct dial (at most 5 characters)."""
    return any(
        participant.type == CallParticipantType.REMOTE
        and len(participant.phone_number) <= _DIRECT_DIAL_MAX
        for participant in event.participants
    )


def _logged_entity(value: Any) -> Any:
    """A logged entity as the adapter returned it (the original does not validate it)."""
    return as_returned(value, LoggedIntegrationEntity, "entity")


@routes.post("/events/calls")
@documented(
    Operation(
        summary="Log a call (deprecated).",
        adapter_method="handle_call_event",
        tag="calls",
        request=CallEvent,
        replies={
            200: Reply(
                "The adapter's reference, or `Skipping call event` for a direct dial.", "text"
            )
        },
    )
)
async def handle_call_event(request: web.Request) -> web.Response:
    """Log a call (deprecated route); answers the adapter's reference string."""
    adapter = request.app[ADAPTER]
    require(adapter, "handle_call_event")
    event = await read_model(request, CallEvent, _INVALID_EVENT)
    if should_skip_call_event(event):
        return text_response("Skipping call event")
    reference = await adapter.handle_call_event(config_of(request), event)
    return text_response("" if reference is None else str(reference))


@routes.put("/events/calls/{id:[^/]+}")
@documented(
    Operation(
        summary="Update a logged call (deprecated).",
        adapter_method="update_call_event",
        tag="calls",
        request=CallEvent,
        replies={200: Reply("Done (empty body).")},
    )
)
async def update_call_event(request: web.Request) -> web.Response:
    """Update a logged call (deprecated route)."""
    adapter = request.app[ADAPTER]
    require(adapter, "update_call_event")
    event = await read_model(request, CallEvent, _INVALID_EVENT)
    await adapter.update_call_event(config_of(request), request.match_info["id"], event)
    return empty_response()


@routes.put("/call-log")
@documented(
    Operation(
        summary="Log a call to the given entities.",
        adapter_method="create_or_update_call_log_for_entities",
        tag="calls",
        request=CallEventWithIntegrationEntities,
        replies={
            200: Reply(
                "The entities logged to (`[]` for a direct dial).",
                "json",
                LoggedIntegrationEntity,
                array=True,
            )
        },
    )
)
async def call_log_for_entities(request: web.Request) -> web.Response:
    """Log a call to the given entities; answers the logged entities."""
    adapter = request.app[ADAPTER]
    require(adapter, "create_or_update_call_log_for_entities")
    event = await read_model(request, CallEventWithIntegrationEntities, _INVALID_EVENT)
    if should_skip_call_event(event):
        return json_response([])
    logged: Sequence[Any] = await adapter.create_or_update_call_log_for_entities(
        config_of(request), event
    )
    return json_response([_logged_entity(item) for item in logged or []])


@routes.put("/call-log/phoneNumber")
@documented(
    Operation(
        summary="Log a call to whatever its remote number belongs to.",
        adapter_method="create_call_log_for_phone_number",
        tag="calls",
        request=CallEvent,
        replies={
            200: Reply(
                "The entity logged to; an empty body for none or a direct dial.",
                "json",
                LoggedIntegrationEntity,
                may_be_empty=True,
            )
        },
    )
)
async def call_log_for_phone_number(request: web.Request) -> web.Response:
    """Log a call to whatever its remote number belongs to."""
    adapter = request.app[ADAPTER]
    require(adapter, "create_call_log_for_phone_number")
    event = await read_model(request, CallEvent, _INVALID_EVENT)
    if should_skip_call_event(event):
        return empty_response()
    logged = await adapter.create_call_log_for_phone_number(config_of(request), event)
    if logged is None:
        return empty_response()
    return json_response(_logged_entity(logged))


@routes.get("/call-log-metadata")
@documented(
    Operation(
        summary="The call log options the CRM offers.",
        adapter_method="get_call_log_metadata",
        tag="calls",
        replies={200: Reply("The options.", "json", IntegrationDefinedOptions)},
    )
)
async def call_log_metadata(request: web.Request) -> web.Response:
    """The call log options the CRM offers."""
    return json_response(await request.app[ADAPTER].get_call_log_metadata(config_of(request)))
