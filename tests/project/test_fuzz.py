"""Schemathesis over every documented operation of a bridge whose adapter implements everything.

The bridge runs on a real socket on 127.0.0.1 (in a thread with its own event
loop); schemathesis generates valid and invalid requests from the served
OpenAPI document. Whatever it sends, the answer is never a 5xx (the adapter
never fails here) and always matches the document: a documented status, the
documented content type and body schema, the documented headers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from integration_bridge import (
    Adapter,
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    ContactTemplate,
    ContactUpdate,
    FollowUpWithIntegrationEntities,
    IntegrationEntityType,
    IntegrationsEvent,
    IntegrationsEventType,
    OAuth2Credentials,
    Settings,
    create_app,
)
from integration_bridge.openapi import build_openapi
from tests.support import wire_contact

MAX_EXAMPLES = 12


def _contact(id: str, number: str = "+49 157 12345678") -> dict[str, Any]:
    number_entry = {"label": "WORK", "phoneNumber": number}
    return wire_contact(id, firstName="Ada", lastName="Lovelace", phoneNumbers=[number_entry])


class FullBridge(Adapter):
    """Implements every method with well-formed answers and never fails."""

    async def get_token(self, config: Config) -> str:
        return "refreshed-provider-key"

    async def is_valid_token(self, config: Config) -> bool:
        return config.api_key != "invalid"

    async def get_account_id(self, config: Config) -> str:
        return "account-1"

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        return _contact(id)

    async def get_contacts(self, config: Config) -> Sequence[Any]:
        return [_contact("c1"), _contact("c2", "0211 123456"), _contact("c3", "12")]

    async def stream_contacts(self, config: Config) -> AsyncIterator[Sequence[Any]]:
        yield [_contact("c1")]

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        return {**contact.model_dump(by_alias=True), "id": "created"}

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Any:
        return {**contact.model_dump(by_alias=True), "id": id}

    async def delete_contact(self, config: Config, id: str) -> None:
        return None

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        return f"ref-{event.id}"

    async def update_call_event(self, config: Config, id: str, event: CallEvent) -> None:
        return None

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> Sequence[Any]:
        return [
            {"id": entity.id, "type": entity.type, "source": entity.source, "logId": "log-1"}
            for entity in event.integration_entities
        ]

    async def create_call_log_for_phone_number(self, config: Config, event: CallEvent) -> Any:
        return {"id": "c1", "type": "contacts", "source": "FUZZ", "logId": "log-1"}

    async def get_call_log_metadata(self, config: Config) -> Any:
        return {"label": "Outcome", "options": [{"label": "Reached", "key": "reached"}]}

    async def get_entity(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        return {"id": id, "type": "deals", "source": "FUZZ", "label": "Deal"}

    async def get_entities_for_contact(self, config: Config, contact_id: str) -> Sequence[Any]:
        return [{"id": "d1", "type": "deals", "source": "FUZZ", "label": "Deal"}]

    async def handle_connected_event(self, config: Config) -> None:
        return None

    async def handle_disconnected_event(self, config: Config) -> None:
        return None

    async def get_health(self) -> None:
        return None

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        return "https://crm.example.com/authorize?state=1"

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials:
        return OAuth2Credentials(api_key="oauth-key", api_url="https://crm.example.com")

    async def handle_webhook(self, request: web.Request) -> Sequence[Any]:
        # As a CRM bridge reads its webhook: malformed JSON or the wrong shape raises here.
        body = await request.json()
        return [
            IntegrationsEvent(
                type=IntegrationsEventType.CONTACT_UPDATED,
                account_id=str(body["accountId"]),
                contact_id=str(body["contactId"]),
                contact_type="contacts",
            )
        ]

    async def verify_webhook_request(self, request: web.Request) -> bool:
        return True

    async def get_task(self, config: Config, id: str) -> Any:
        return {"id": id, "content": "Call back", "createdAt": 1, "dueAt": 2, "title": "Task"}

    async def create_follow_up(
        self, config: Config, follow_up: FollowUpWithIntegrationEntities
    ) -> str:
        return "follow-up-1"

    async def get_task_metadata(self, config: Config) -> Any:
        return {"label": "Task type", "options": [{"label": "Call", "key": "call"}]}


def _bridge_app() -> web.Application:
    return create_app(
        FullBridge(),
        settings=Settings(
            oauth2_redirect_url="https://front.example.com/oauth-done",
            contact_fetch_timeout=2.0,
            metrics_enabled=True,
        ),
    )


schema = schemathesis.openapi.from_dict(build_openapi(_bridge_app()))


class _ServerThread:
    """The bridge app served on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fuzz-bridge", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _start(self) -> None:
        self.runner = web.AppRunner(_bridge_app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fuzz bridge did not start")
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = _ServerThread()
    url = server.start()
    yield url
    server.stop()


def empty_body_allowed(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """The built-in content checks, except for an empty body the document allows."""
    if not response.content:
        documented = case.operation.definition.raw["responses"].get(str(response.status_code))
        if isinstance(documented, dict) and documented.get("x-may-be-empty"):
            return
    for check in (content_type_conformance, response_schema_conformance):
        check(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_headers_conformance,
    unsupported_method,
    schemathesis.check(empty_body_allowed),
]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_match_the_document(case: schemathesis.Case[Any], base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
