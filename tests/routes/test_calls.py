"""Call events, call logs, entities and tasks."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import (
    Adapter,
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    FollowUpWithIntegrationEntities,
    IntegrationDefinedOptions,
    IntegrationEntityType,
    LabeledIntegrationEntity,
    LoggedIntegrationEntity,
)
from tests.support import CALL, USER_HEADERS, ClientFactory


class CallsAdapter(Adapter):
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.found: LoggedIntegrationEntity | None = LoggedIntegrationEntity(
            id="c1", type=IntegrationEntityType.CONTACTS, source="CRM", log_id="log-1"
        )

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        self.received.append(event)
        return "ref-1"

    async def update_call_event(self, config: Config, id: str, event: CallEvent) -> None:
        self.received.append((id, event))

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> list[dict[str, Any]]:
        self.received.append(event)
        return [
            {"id": e.id, "type": e.type, "source": e.source, "logId": e.log_id or "new-log"}
            for e in event.integration_entities
        ]

    async def create_call_log_for_phone_number(
        self, config: Config, event: CallEvent
    ) -> LoggedIntegrationEntity | None:
        self.received.append(event)
        return self.found

    async def get_call_log_metadata(self, config: Config) -> IntegrationDefinedOptions:
        return IntegrationDefinedOptions(label="Outcome")

    async def get_entity(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> LabeledIntegrationEntity | None:
        if id == "missing":
            return None
        return LabeledIntegrationEntity(
            id=id, type=type, source="CRM", label="Big deal", additional_properties={"isOpen": True}
        )

    async def get_entities_for_contact(
        self, config: Config, contact_id: str
    ) -> list[dict[str, Any]]:
        return [{"id": "d1", "type": "deals", "source": "CRM", "label": f"Deal of {contact_id}"}]

    async def get_task(self, config: Config, id: str) -> dict[str, Any]:
        return {"id": id, "content": "Call back", "createdAt": 1, "dueAt": 2, "title": "Todo"}

    async def create_follow_up(
        self, config: Config, follow_up: FollowUpWithIntegrationEntities
    ) -> str:
        self.received.append(follow_up)
        return "task-9"

    async def get_task_metadata(self, config: Config) -> dict[str, Any]:
        return {"label": "Type", "options": [{"label": "Call", "key": "call"}]}


DIRECT_DIAL_CALL = {
    **CALL,
    "participants": [
        {"type": "local", "phoneNumber": "+4921100000"},
        {"type": "remote", "phoneNumber": "12-34"},
    ],
}


async def test_call_event_answers_the_reference(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.post("/events/calls", json=CALL, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.text() == "ref-1"
    assert adapter.received[0].start_time == CALL["startTime"]


async def test_direct_dial_call_event_is_skipped(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.post("/events/calls", json=DIRECT_DIAL_CALL, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.text() == "Skipping call event"
    assert adapter.received == []


async def test_local_short_number_is_not_skipped(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    event = {
        **CALL,
        "participants": [
            {"type": "local", "phoneNumber": "12"},
            {"type": "remote", "phoneNumber": "123456"},
        ],
    }
    response = await client.post("/events/calls", json=event, headers=USER_HEADERS)
    assert await response.text() == "ref-1"


async def test_update_call_event(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.put("/events/calls/call-7", json=CALL, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.read() == b""
    assert adapter.received[0][0] == "call-7"


async def test_call_log_for_entities(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    event = {
        **CALL,
        "integrationEntities": [
            {"id": "c1", "type": "contacts", "source": "CRM"},
            {"id": "d1", "type": "deals", "source": "CRM", "logId": "old-log"},
        ],
    }
    response = await client.put("/call-log", json=event, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.json() == [
        {"id": "c1", "type": "contacts", "source": "CRM", "logId": "new-log"},
        {"id": "d1", "type": "deals", "source": "CRM", "logId": "old-log"},
    ]


async def test_call_log_for_entities_skips_direct_dials(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    event = {**DIRECT_DIAL_CALL, "integrationEntities": []}
    response = await client.put("/call-log", json=event, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.json() == []
    assert adapter.received == []


async def test_call_log_for_phone_number(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.put("/call-log/phoneNumber", json=CALL, headers=USER_HEADERS)
    assert await response.json() == {
        "id": "c1",
        "type": "contacts",
        "source": "CRM",
        "logId": "log-1",
    }
    adapter.found = None
    response = await client.put("/call-log/phoneNumber", json=CALL, headers=USER_HEADERS)
    assert response.status == 200
    assert await response.read() == b""
    response = await client.put(
        "/call-log/phoneNumber", json=DIRECT_DIAL_CALL, headers=USER_HEADERS
    )
    assert response.status == 200
    assert await response.read() == b""
    assert len(adapter.received) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/events/calls"),
        ("PUT", "/events/calls/1"),
        ("PUT", "/call-log"),
        ("PUT", "/call-log/phoneNumber"),
    ],
)
async def test_invalid_call_events_are_400(
    make_client: ClientFactory, method: str, path: str
) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.request(method, path, json={"id": 1}, headers=USER_HEADERS)
    assert response.status == 400
    assert (await response.text()).startswith("Invalid call event received: ")
    assert adapter.received == []


async def test_call_log_metadata(make_client: ClientFactory) -> None:
    client = await make_client(CallsAdapter())
    response = await client.get("/call-log-metadata", headers=USER_HEADERS)
    assert await response.json() == {"label": "Outcome"}


async def test_entity_and_entities_for_contact(make_client: ClientFactory) -> None:
    client = await make_client(CallsAdapter())
    response = await client.get("/entity/deals/d1", headers=USER_HEADERS)
    assert await response.json() == {
        "id": "d1",
        "type": "deals",
        "source": "CRM",
        "label": "Big deal",
        "additionalProperties": {"isOpen": True},
    }
    response = await client.get("/entity/deals/missing", headers=USER_HEADERS)
    assert response.status == 200
    assert await response.read() == b""
    response = await client.get("/contacts/c1/entities", headers=USER_HEADERS)
    assert await response.json() == [
        {"id": "d1", "type": "deals", "source": "CRM", "label": "Deal of c1"}
    ]


async def test_tasks(make_client: ClientFactory) -> None:
    adapter = CallsAdapter()
    client = await make_client(adapter)
    response = await client.get("/tasks/t1", headers=USER_HEADERS)
    assert await response.json() == {
        "id": "t1",
        "content": "Call back",
        "createdAt": 1,
        "dueAt": 2,
        "title": "Todo",
    }
    follow_up = {
        "content": "Call back",
        "dueAt": 1700000000000,
        "title": "Follow up",
        "type": "call",
        "integrationEntities": [{"id": "c1", "type": "contacts", "source": "CRM"}],
    }
    response = await client.post("/tasks", json=follow_up, headers=USER_HEADERS)
    assert await response.json() == {"followUpId": "task-9"}
    assert adapter.received[0].title == "Follow up"
    response = await client.post("/tasks", json={"title": 1}, headers=USER_HEADERS)
    assert response.status == 400
    response = await client.get("/task-metadata", headers=USER_HEADERS)
    assert await response.json() == {"label": "Type", "options": [{"label": "Call", "key": "call"}]}
