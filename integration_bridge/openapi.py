"""The OpenAPI 3.1 document of a bridge, generated from its route table and models.

Every route handler of the framework carries an `Operation` (attached with
`documented`): its summary, request model, query parameters and answers. The
document is built from what ``app.router`` actually serves plus
``models_json_schema`` of the pydantic models, so it cannot drift from the code:
`undocumented_routes` names any route without an `Operation` (the test suite
requires none), and such a route still appears with a minimal entry.

`GET /openapi.json` serves the document of the running app, built on the first
request and kept. ``python -m integration_bridge openapi [-o FILE]`` writes the
framework's document without running a bridge.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

__all__ = [
    "OPENAPI_PATH",
    "Operation",
    "QueryParam",
    "Reply",
    "build_openapi",
    "documented",
    "openapi_handler",
    "undocumented_routes",
]

OPENAPI_PATH = "/openapi.json"
OPENAPI_VERSION = "3.1.0"

_REF = "#/components/schemas/{model}"
_ATTRIBUTE = "__openapi_operation__"
_METHODS = ("get", "put", "post", "delete", "patch")

Media = Literal["json", "text"]


@dataclass(frozen=True)
class Reply:
    """One documented answer of an operation.

    Attributes:
        description: what the answer means.
        media: ``json``, ``text`` (``text/plain``) or None for an empty body.
        model: the JSON body's model (``array``: a list of it).
        schema: a JSON schema for the body when there is no model.
        headers: names of documented response headers (`RESPONSE_HEADERS`).
        may_be_empty: the body may also be empty, without a content type.
    """

    description: str
    media: Media | None = None
    model: type[BaseModel] | None = None
    array: bool = False
    schema: Mapping[str, Any] | None = None
    headers: tuple[str, ...] = ()
    may_be_empty: bool = False


@dataclass(frozen=True)
class QueryParam:
    """A documented query parameter."""

    name: str
    description: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """What one route handler accepts and answers.

    Attributes:
        summary: one line for the reader.
        replies: the route's own answers by status (200, 401, 302, ...).
        adapter_method: the `Adapter` method behind the route (adds 501 and 452).
        request: the model of the JSON request body.
        raw_body: the route reads a body that is not a model (e.g. a webhook).
        query: query parameters.
        config: the route reads the ``x-*`` headers.
        errors: further error statuses with a ``text/plain`` body, with their meaning.
        tag: the group of the route in the document.
    """

    summary: str
    replies: Mapping[int, Reply]
    adapter_method: str | None = None
    request: type[BaseModel] | None = None
    raw_body: bool = False
    query: tuple[QueryParam, ...] = ()
    config: bool = True
    errors: Mapping[int, str] = field(default_factory=dict)
    tag: str = "bridge"


H = TypeVar("H", bound=Callable[..., Any])


def documented(operation: Operation) -> Callable[[H], H]:
    """Attach ``operation`` to a route handler (put it under ``@routes.get(...)``)."""

    def attach(handler: H) -> H:
        setattr(handler, _ATTRIBUTE, operation)
        return handler

    return attach


def operation_of(handler: Any) -> Operation | None:
    """The `Operation` attached to a handler, if any."""
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


# --- what every route shares -------------------------------------------------------------------

REQUEST_HEADERS: dict[str, str] = {
    "x-user-id": "The telephony user; streams are keyed by it and log lines carry it.",
    "x-provider-key": (
        "The user's CRM credential (API key or OAuth2 token). Keys starting with a reserved "
        "storage prefix (`cache-state:`, `AUTH:`) are refused with 400."
    ),
    "x-provider-url": "The CRM's base URL for this user.",
    "x-provider-locale": "The user's locale (default `de-DE`); its region parses phone numbers.",
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Provider-Key": {
        "description": "The provider key returned by the adapter's `get_token` (maybe refreshed).",
        "schema": {"type": "string"},
    },
    "X-Fetching-State": {
        "description": "`pending`: the list is still being fetched; the body is `[]`.",
        "schema": {"type": "string", "enum": ["pending"]},
    },
    "Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}},
}

_PATH_PARAMS: dict[str, str] = {
    "id": (
        "The CRM's id, percent-encoded. Empty, `.`, `..`, or holding `/`, `\\`, `?`, `#` or a "
        "control character after decoding → 400 `Invalid id`; the adapter never sees it."
    ),
    "type": "An entity type (`IntegrationEntityType` value), checked like an id.",
}

_COMMON_ERRORS: dict[int, str] = {
    400: (
        "Bad input: an `x-*` header that is not valid UTF-8 or holds control characters, an "
        "invalid id, a malformed or invalid body, a string over its length limit."
    ),
    500: (
        "The bridge failed: the error's message, or a fixed `Internal Server Error` for an "
        "unexpected exception (its traceback is logged, never sent)."
    ),
}
_ADAPTER_ERRORS: dict[int, str] = {
    452: "The CRM refused or failed; the body is an `IntegrationErrorType` for the front end.",
    501: "The bridge does not implement this; the body says what.",
}
_BODY_ERRORS: dict[int, str] = {
    408: "The body did not arrive within `BODY_READ_TIMEOUT` seconds.",
    413: "The body is larger than `MAX_BODY_SIZE`.",
}

_SHARED_ERRORS: dict[int, tuple[str, str]] = {
    status: (name, description)
    for name, (status, description) in {
        "BadRequest": (400, _COMMON_ERRORS[400]),
        "RequestTimeout": (408, _BODY_ERRORS[408]),
        "PayloadTooLarge": (413, _BODY_ERRORS[413]),
        "DelegatedToFrontend": (452, _ADAPTER_ERRORS[452]),
        "ServerError": (500, _COMMON_ERRORS[500]),
        "NotImplemented": (501, _ADAPTER_ERRORS[501]),
    }.items()
}

_DESCRIPTION = """\
The HTTP API every bridge built on integration_bridge serves (compatible with
`@sipgate/integration-bridge`). The caller's identity and CRM credentials come in
the `x-*` request headers. Errors are `text/plain` bodies. Beyond the listed
answers, an unknown path answers 404 and a method the path does not serve answers
405 with an `Allow` header (both `text/plain`). Requests carrying an `Origin`
header get CORS headers; an `OPTIONS` preflight answers 204."""


# --- building the document -----------------------------------------------------------------------


def _route_entries(app: web.Application) -> Iterator[tuple[str, str, Any]]:
    """``(path template, method, handler)`` for every route of ``app`` and its sub-apps."""
    for route in app.router.routes():
        method = route.method.lower()
        if method not in _METHODS or route.resource is None:
            continue  # HEAD mirrors GET; catch-all methods have nothing to document
        yield route.resource.canonical, method, route.handler


def undocumented_routes(app: web.Application) -> list[str]:
    """``"METHOD /path"`` of every route of ``app`` whose handler has no `Operation`."""
    return sorted(
        f"{method.upper()} {path}"
        for path, method, handler in _route_entries(app)
        if operation_of(handler) is None
    )


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


class _Schemas:
    """Collects the models an app's operations use, then resolves them to ``$ref``s."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
        self._refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]] = {}
        self.components: dict[str, Any] = {}

    def want(self, model: type[BaseModel], mode: JsonSchemaMode) -> None:
        self._wanted[(model, mode)] = None

    def resolve(self) -> None:
        if not self._wanted:
            return
        refs, top = models_json_schema(list(self._wanted), by_alias=True, ref_template=_REF)
        self._refs = {(model, mode): refs[(model, mode)] for model, mode in self._wanted}
        self.components = dict(sorted(top.get("$defs", {}).items()))

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self._refs[(model, mode)])


def _reply_object(reply: Reply, schemas: _Schemas) -> dict[str, Any]:
    result: dict[str, Any] = {"description": reply.description}
    if reply.media == "text":
        result["content"] = {"text/plain": {"schema": dict(reply.schema or {"type": "string"})}}
    elif reply.media == "json":
        if reply.model is not None:
            body: dict[str, Any] = schemas.ref(reply.model, "serialization")
            if reply.array:
                body = {"type": "array", "items": body}
        else:
            body = dict(reply.schema or {})
        result["content"] = {"application/json": {"schema": body}}
    if reply.may_be_empty:
        result["x-may-be-empty"] = True
    if reply.headers:
        result["headers"] = {
            name: {"$ref": f"#/components/headers/{name}"} for name in reply.headers
        }
    return result


def _parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name in _path_parameter_names(path):
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": _PATH_PARAMS.get(name, ""),
                "schema": {"type": "string", "minLength": 1},
            }
        )
    for query in operation.query:
        parameters.append(
            {
                "name": query.name,
                "in": "query",
                "required": query.required,
                "description": query.description,
                "schema": dict(query.schema),
            }
        )
    if operation.config:
        parameters.extend({"$ref": f"#/components/parameters/{name}"} for name in REQUEST_HEADERS)
    return parameters


def _path_parameter_names(path: str) -> list[str]:
    names = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            names.append(part[1:-1].split(":", 1)[0])
    return names


def _operation_object(
    path: str, method: str, handler: Any, operation: Operation | None, schemas: _Schemas
) -> dict[str, Any]:
    if operation is None:
        # A route of the bridge's own without an `Operation`: listed, not described.
        summary = (inspect.getdoc(handler) or "").split("\n", 1)[0]
        return {
            "operationId": f"{method}_{path}",
            "summary": summary or f"{method.upper()} {path}",
            "tags": ["bridge's own routes"],
            "responses": {"default": {"description": "Not documented by the bridge."}},
        }
    responses: dict[str, Any] = {
        str(status): _reply_object(reply, schemas) for status, reply in operation.replies.items()
    }
    errors = dict(_COMMON_ERRORS)
    if operation.adapter_method is not None:
        errors.update(_ADAPTER_ERRORS)
    if operation.request is not None or operation.raw_body:
        errors.update(_BODY_ERRORS)
    errors.update(operation.errors)
    for status, description in errors.items():
        shared = _SHARED_ERRORS.get(status)
        if shared is not None and shared[1] == description:
            responses.setdefault(str(status), {"$ref": f"#/components/responses/{shared[0]}"})
        else:
            responses.setdefault(str(status), _text(description))
    result: dict[str, Any] = {
        "operationId": getattr(handler, "__name__", f"{method}_{path}"),
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": _parameters(path, operation),
        "responses": dict(sorted(responses.items())),
    }
    if operation.adapter_method is not None:
        result["x-adapter-method"] = operation.adapter_method
    if operation.request is not None:
        result["requestBody"] = {
            "required": False,
            "description": "JSON; an empty body counts as `{}`. Unknown fields are kept.",
            "content": {
                "application/json": {"schema": schemas.ref(operation.request, "validation")}
            },
        }
    elif operation.raw_body:
        result["requestBody"] = {
            "required": False,
            "description": "Read by the adapter as it arrives.",
            "content": {"application/json": {"schema": {}}},
        }
    if not result["parameters"]:
        del result["parameters"]
    return result


def _version() -> str:
    try:
        return metadata.version("integration_bridge")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0.0.0"


def build_openapi(app: web.Application, *, title: str = "CRM bridge") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route ``app`` serves.

    Args:
        app: a bridge app (from `create_app`), sub-apps and extra routes included.
        title: the document's ``info.title``.

    Returns:
        The document as a JSON-ready dict.
    """
    entries = sorted(_route_entries(app), key=lambda entry: (entry[0], _METHODS.index(entry[1])))
    schemas = _Schemas()
    for _path, _method, handler in entries:
        operation = operation_of(handler)
        if operation is None:
            continue
        if operation.request is not None:
            schemas.want(operation.request, "validation")
        for reply in operation.replies.values():
            if reply.model is not None:
                schemas.want(reply.model, "serialization")
    schemas.resolve()

    paths: dict[str, dict[str, Any]] = {}
    for path, method, handler in entries:
        paths.setdefault(path, {})[method] = _operation_object(
            path, method, handler, operation_of(handler), schemas
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": _version(), "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "parameters": {
                name: {
                    "name": name,
                    "in": "header",
                    "required": False,
                    "description": description,
                    "schema": {"type": "string"},
                }
                for name, description in REQUEST_HEADERS.items()
            },
            "responses": {name: _text(text) for name, text in _SHARED_ERRORS.values()},
            "headers": RESPONSE_HEADERS,
        },
    }


_DOCUMENT: web.AppKey[dict[str, bytes]] = web.AppKey("openapi_document", dict)


def install(app: web.Application) -> None:
    """Serve `GET /openapi.json` on ``app`` (`create_app` does this)."""
    app[_DOCUMENT] = {}
    app.router.add_get(OPENAPI_PATH, openapi_handler)


@documented(
    Operation(
        summary="This document.",
        config=False,
        tag="meta",
        replies={200: Reply("The OpenAPI 3.1 document.", media="json", schema={"type": "object"})},
    )
)
async def openapi_handler(request: web.Request) -> web.Response:
    """The app's OpenAPI document, built on the first call and kept."""
    cache = request.app[_DOCUMENT]
    body = cache.get("json")
    if body is None:
        body = orjson.dumps(build_openapi(request.app), option=orjson.OPT_INDENT_2)
        cache["json"] = body
    return web.Response(body=body, content_type="application/json", charset="utf-8")
