"""GET/POST/PUT/DELETE /contacts and GET /contacts/{id}."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from integration_bridge.adapter import Adapter, require
from integration_bridge.appkeys import ADAPTER, CONTACT_CACHE, SETTINGS, Serving
from integration_bridge.cache.storage import Blob
from integration_bridge.contacts import contact_to_dict, sanitize_contact, validate_contact
from integration_bridge.errors import ServerError
from integration_bridge.middlewares import config_of, request_scope_var
from integration_bridge.models import ContactTemplate, ContactUpdate, IntegrationEntityType
from integration_bridge.models.entities import ENTITY_TYPES
from integration_bridge.models.responses import SanitizedContact
from integration_bridge.openapi import Operation, QueryParam, Reply, documented
from integration_bridge.responses import (
    JSON_CONTENT_TYPE,
    accepts_gzip,
    empty_response,
    json_response,
    read_model,
)
from integration_bridge.routes.common import attach_provider_key

__all__ = ["routes"]

routes = web.RouteTableDef()


# Built once: an answer copies them in one call instead of setting three headers.
_GZIP_HEADERS = CIMultiDict(
    {"Content-Type": JSON_CONTENT_TYPE, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
)
_IDENTITY_HEADERS = CIMultiDict({"Content-Type": JSON_CONTENT_TYPE})
_GZIP_PENDING_HEADERS = CIMultiDict({**_GZIP_HEADERS, "X-Fetching-State": "pending"})
_IDENTITY_PENDING_HEADERS = CIMultiDict({**_IDENTITY_HEADERS, "X-Fetching-State": "pending"})
_EMPTY_LIST = Blob(b"[]")
_BASE_GET_CONTACTS = Adapter.get_contacts
_BASE_GET_TOKEN = Adapter.get_token


@routes.get("/contacts")
@documented(
    Operation(
        summary="All contacts, from the cache when possible (stale-while-revalidate).",
        adapter_method="get_contacts",
        tag="contacts",
        replies={
            200: Reply(
                "The sanitized contacts; `[]` with `X-Fetching-State: pending` while fetching.",
                "json",
                SanitizedContact,
                array=True,
                headers=("X-Fetching-State", "X-Provider-Key"),
            )
        },
    )
)
async def get_contacts(request: web.Request) -> web.Response:
    """All contacts, from the cache when possible (``X-Fetching-State: pending`` if not yet)."""
    # Set by the middleware: the request's Config and Accept-Encoding verdict without
    # a lookup, and three `app[...]` calls less.
    scope = request_scope_var.get()
    if (
        scope is not None
        and scope.request is request
        and (config := scope.facts.config) is not None
    ):
        gzip = scope.facts.gzip
        serving = scope.serving
    else:
        config, gzip, serving = config_of(request), accepts_gzip(request), None
    if serving is None:
        app = request.app
        serving = Serving(app[ADAPTER], app[CONTACT_CACHE], app[SETTINGS].cache_disabled)
    adapter = serving.adapter
    adapter_class = adapter.__class__
    # `require` and `implements`, inlined (the same class lookups): every request asks.
    if getattr(adapter_class, "get_contacts", _BASE_GET_CONTACTS) is _BASE_GET_CONTACTS:
        require(adapter, "get_contacts")
    cache = serving.contact_cache
    if serving.cache_disabled:
        blob = (await cache.fetch_uncached(config)).blob
    else:
        blob = cache.fresh(config)  # a current list from the memory store: no coroutine
        if blob is None:
            blob = (await cache.get(config)).blob
    if blob is None:
        blob = _EMPTY_LIST
        headers = _GZIP_PENDING_HEADERS if gzip else _IDENTITY_PENDING_HEADERS
    else:
        headers = _GZIP_HEADERS if gzip else _IDENTITY_HEADERS
    response = web.Response(body=blob.gzip if gzip else blob.json, headers=headers)
    if getattr(adapter_class, "get_token", _BASE_GET_TOKEN) is not _BASE_GET_TOKEN:
        await attach_provider_key(request, response, required=False)
    return response


@routes.get("/contacts/{id:[^/]+}")
@documented(
    Operation(
        summary="One contact by id; sanitized, unknown fields passed through.",
        adapter_method="get_contact",
        tag="contacts",
        query=(
            QueryParam(
                "type",
                "The entity type; anything else → 400 `Missing contact type query parameter`.",
                {"type": "string", "enum": sorted(ENTITY_TYPES)},
                required=True,
            ),
        ),
        replies={200: Reply("The sanitized contact.", "json", SanitizedContact)},
    )
)
async def get_contact(request: web.Request) -> web.Response:
    """One contact by id and ``?type=``; sanitized, unknown fields passed through."""
    config = config_of(request)
    adapter = request.app[ADAPTER]
    require(adapter, "get_contact")
    entity_type = request.query.get("type")
    if entity_type not in ENTITY_TYPES:
        raise ServerError(400, "Missing contact type query parameter")
    contact = await adapter.get_contact(
        config, request.match_info["id"], IntegrationEntityType(entity_type)
    )
    return json_response(sanitize_contact(contact_to_dict(contact), config.locale))


async def _written(request: web.Request, response: web.Response) -> web.Response:
    """A write route's answer, with the refreshed provider key (a failure fails the route)."""
    await attach_provider_key(request, response, required=True)
    return response


async def _returned_contact(value: Any, locale: str) -> dict[str, Any]:
    return sanitize_contact(validate_contact(value, "Invalid contact returned from bridge"), locale)


@routes.post("/contacts")
@documented(
    Operation(
        summary="Create a contact; a cached list gets it appended.",
        adapter_method="create_contact",
        tag="contacts",
        request=ContactTemplate,
        replies={
            200: Reply(
                "The created contact, sanitized.",
                "json",
                SanitizedContact,
                headers=("X-Provider-Key",),
            )
        },
    )
)
async def create_contact(request: web.Request) -> web.Response:
    """Create a contact; the cached list (if any) gets it appended."""
    config = config_of(request)
    adapter = request.app[ADAPTER]
    require(adapter, "create_contact")
    template = await read_model(request, ContactTemplate, "Invalid contactCreate received")
    contact = await _returned_contact(await adapter.create_contact(config, template), config.locale)
    if not request.app[SETTINGS].cache_disabled:
        await request.app[CONTACT_CACHE].add_contact(config, contact)
    return await _written(request, json_response(contact))


@routes.put("/contacts/{id:[^/]+}")
@documented(
    Operation(
        summary="Update a contact (the path id wins); the cached entry is replaced.",
        adapter_method="update_contact",
        tag="contacts",
        request=ContactTemplate,  # the path gives the id; the body needs none
        replies={
            200: Reply(
                "The updated contact, sanitized.",
                "json",
                SanitizedContact,
                headers=("X-Provider-Key",),
            )
        },
    )
)
async def update_contact(request: web.Request) -> web.Response:
    """Update a contact (the path id wins over the body's); the cached entry is replaced.

    The cached entry replaced is the one with the returned contact's id, as in the
    original.
    """
    config = config_of(request)
    adapter = request.app[ADAPTER]
    require(adapter, "update_contact")
    id = request.match_info["id"]
    update = await read_model(
        request, ContactUpdate, "Invalid contactUpdate received", overrides={"id": id}
    )
    contact = await _returned_contact(
        await adapter.update_contact(config, id, update), config.locale
    )
    if not request.app[SETTINGS].cache_disabled:
        await request.app[CONTACT_CACHE].replace_contact(config, str(contact["id"]), contact)
    return await _written(request, json_response(contact))


@routes.delete("/contacts/{id:[^/]+}")
@documented(
    Operation(
        summary="Delete a contact; it is removed from the cached list.",
        adapter_method="delete_contact",
        tag="contacts",
        replies={200: Reply("Deleted (empty body).", headers=("X-Provider-Key",))},
    )
)
async def delete_contact(request: web.Request) -> web.Response:
    """Delete a contact; it is removed from the cached list."""
    config = config_of(request)
    id = request.match_info["id"]
    await request.app[ADAPTER].delete_contact(config, id)
    if not request.app[SETTINGS].cache_disabled:
        await request.app[CONTACT_CACHE].remove_contact(config, id)
    return await _written(request, empty_response())
