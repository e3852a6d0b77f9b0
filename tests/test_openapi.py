"""GET /openapi.json: generated from the route table and the models, never drifting from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from aiohttp import web

from integration_bridge import ContactTemplate, create_app
from integration_bridge.cli import main as cli_main
from integration_bridge.openapi import (
    Operation,
    Reply,
    build_openapi,
    documented,
    undocumented_routes,
)
from integration_bridge.settings import Settings
from tests.support import ClientFactory, EmptyAdapter


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    """``(METHOD, path template)`` of every route the app serves (HEAD mirrors GET)."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node)) if node else set()
    return set()


async def test_served_document_is_valid_openapi_31_and_lists_every_route(
    make_client: ClientFactory,
) -> None:
    client = await make_client(EmptyAdapter())
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()

    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()
    assert documented_routes(document) == served_routes(client.app)
    assert ("GET", "/openapi.json") in documented_routes(document)
    for ref in refs(document):
        section, kind, name = ref.removeprefix("#/").split("/")
        assert name in document[section][kind], ref


def test_every_framework_route_carries_its_operation() -> None:
    """A route added without `documented(Operation(...))` fails here (no drift)."""
    app = create_app(EmptyAdapter(), settings=Settings())
    assert undocumented_routes(app) == []
    document = build_openapi(app)
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["summary"]
            assert "default" not in operation["responses"]


def test_a_route_without_an_operation_is_reported_and_still_listed() -> None:
    extra = web.RouteTableDef()

    @extra.get("/custom/{id}")
    async def custom(request: web.Request) -> web.Response:
        """Something of the bridge's own."""
        return web.Response(text="x")

    @extra.post("/custom")
    @documented(
        Operation(summary="Described.", request=ContactTemplate, replies={200: Reply("Fine.")})
    )
    async def described(request: web.Request) -> web.Response:
        return web.Response()

    app = create_app(EmptyAdapter(), settings=Settings(), routes=[extra])
    assert undocumented_routes(app) == ["GET /custom/{id}"]
    document = build_openapi(app)
    assert document["paths"]["/custom/{id}"]["get"]["summary"] == "Something of the bridge's own."
    post = document["paths"]["/custom"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactTemplate"
    }
    assert post["responses"]["413"] == {"$ref": "#/components/responses/PayloadTooLarge"}


def test_request_bodies_use_the_models_wire_names() -> None:
    document = build_openapi(create_app(EmptyAdapter(), settings=Settings()))
    schemas = document["components"]["schemas"]
    template = schemas["ContactTemplate"]
    assert template["required"] == ["phoneNumbers"]
    assert set(template["properties"]) == {
        field.alias for field in ContactTemplate.model_fields.values()
    }
    post = document["paths"]["/contacts"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactTemplate"
    }
    put = document["paths"]["/contacts/{id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactTemplate"
    }
    sanitized = schemas["SanitizedPhoneNumber"]
    assert set(sanitized["required"]) == {"label", "type", "e164", "localized", "phoneNumber"}


def test_headers_statuses_and_plain_text_errors_are_documented() -> None:
    document = build_openapi(create_app(EmptyAdapter(), settings=Settings()))
    parameters = document["components"]["parameters"]
    assert set(parameters) == {"x-user-id", "x-provider-key", "x-provider-url", "x-provider-locale"}
    assert all(parameter["in"] == "header" for parameter in parameters.values())

    get_contacts = document["paths"]["/contacts"]["get"]
    assert {"$ref": "#/components/parameters/x-provider-key"} in get_contacts["parameters"]
    ok = get_contacts["responses"]["200"]
    assert set(ok["headers"]) == {"X-Fetching-State", "X-Provider-Key"}
    assert ok["content"]["application/json"]["schema"]["type"] == "array"
    for path, method in [("/contacts", "post"), ("/contacts/{id}", "put")]:
        responses = document["paths"][path][method]["responses"]
        assert set(responses["200"]["headers"]) == {"X-Provider-Key"}
        assert {"400", "408", "413", "452", "500", "501"} <= set(responses)

    get_contact = document["paths"]["/contacts/{id}"]["get"]
    type_param = next(p for p in get_contact["parameters"] if p.get("name") == "type")
    assert type_param["in"] == "query"
    assert type_param["required"] is True
    assert "contacts" in type_param["schema"]["enum"]
    id_param = next(p for p in get_contact["parameters"] if p.get("name") == "id")
    assert id_param["in"] == "path"

    shared = document["components"]["responses"]
    for name in ("BadRequest", "PayloadTooLarge", "DelegatedToFrontend", "NotImplemented"):
        assert set(shared[name]["content"]) == {"text/plain"}
    assert document["paths"]["/validate-token"]["get"]["responses"]["401"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    assert "headers" in document["paths"]["/oauth2/callback"]["get"]["responses"]["302"]
    assert "x-user-id" not in json.dumps(document["paths"]["/health"])


async def test_document_is_built_once_per_app(make_client: ClientFactory) -> None:
    client = await make_client(EmptyAdapter())
    first = await (await client.get("/openapi.json")).read()
    second = await (await client.get("/openapi.json")).read()
    assert first == second
    assert json.loads(first) == build_openapi(client.app)


def test_cli_writes_the_framework_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert cli_main(["openapi", "-o", str(target)]) == 0
    written = json.loads(target.read_text())
    assert written == build_openapi(create_app(EmptyAdapter(), settings=Settings()))
