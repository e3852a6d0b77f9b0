"""Entities (deals, companies, ...) and tasks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from integration_bridge.adapter import require
from integration_bridge.appkeys import ADAPTER
from integration_bridge.middlewares import config_of
from integration_bridge.models import (
    FollowUpWithIntegrationEntities,
    IntegrationDefinedOptions,
    IntegrationEntityType,
    LabeledIntegrationEntity,
    Task,
)
from integration_bridge.models.responses import FollowUpCreated
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.responses import empty_response, json_response, read_model

__all__ = ["routes"]

routes = web.RouteTableDef()

_ENTITY_TYPES = {item.value: item for item in IntegrationEntityType}


@routes.get("/contacts/{id:[^/]+}/entities")
@documented(
    Operation(
        summary="The entities a contact belongs to.",
        adapter_method="get_entities_for_contact",
        tag="entities",
        replies={200: Reply("The entities.", "json", LabeledIntegrationEntity, array=True)},
    )
)
async def entities_for_contact(request: web.Request) -> web.Response:
    """The entities a contact belongs to."""
    entities = await request.app[ADAPTER].get_entities_for_contact(
        config_of(request), request.match_info["id"]
    )
    return json_response(list(entities or []))


@routes.get("/entity/{type:[^/]+}/{id:[^/]+}")
@documented(
    Operation(
        summary="One entity by type and id.",
        adapter_method="get_entity",
        tag="entities",
        replies={
            200: Reply(
                "The entity; an empty body when there is none.",
                "json",
                LabeledIntegrationEntity,
                may_be_empty=True,
            )
        },
    )
)
async def entity(request: web.Request) -> web.Response:
    """One entity by type and id; an empty body when there is none."""
    raw_type = request.match_info["type"]
    entity_type: Any = _ENTITY_TYPES.get(raw_type, raw_type)
    found = await request.app[ADAPTER].get_entity(
        config_of(request), request.match_info["id"], entity_type
    )
    if found is None:
        return empty_response()
    return json_response(found)


@routes.get("/tasks/{id:[^/]+}")
@documented(
    Operation(
        summary="One task by id.",
        adapter_method="get_task",
        tag="tasks",
        replies={200: Reply("The task.", "json", Task)},
    )
)
async def task(request: web.Request) -> web.Response:
    """One task by id."""
    return json_response(
        await request.app[ADAPTER].get_task(config_of(request), request.match_info["id"])
    )


@routes.post("/tasks")
@documented(
    Operation(
        summary="Create a follow-up task.",
        adapter_method="create_follow_up",
        tag="tasks",
        request=FollowUpWithIntegrationEntities,
        replies={200: Reply("The follow-up's id.", "json", FollowUpCreated)},
    )
)
async def create_follow_up(request: web.Request) -> web.Response:
    """Create a follow-up task; answers ``{"followUpId": ...}``."""
    adapter = request.app[ADAPTER]
    require(adapter, "create_follow_up")
    follow_up = await read_model(
        request, FollowUpWithIntegrationEntities, "Invalid follow-up received"
    )
    follow_up_id = await adapter.create_follow_up(config_of(request), follow_up)
    return json_response({"followUpId": follow_up_id})


@routes.get("/task-metadata")
@documented(
    Operation(
        summary="The task options the CRM offers.",
        adapter_method="get_task_metadata",
        tag="tasks",
        replies={200: Reply("The options.", "json", IntegrationDefinedOptions)},
    )
)
async def task_metadata(request: web.Request) -> web.Response:
    """The task options the CRM offers."""
    return json_response(await request.app[ADAPTER].get_task_metadata(config_of(request)))
