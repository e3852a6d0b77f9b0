"""A demo bridge over an in-memory fake CRM.

Run it with ``python -m integration_bridge run examples.demo_bridge:DemoBridge``.
Every user (``x-provider-key``) gets their own generated address book of a few
hundred contacts with realistic phone numbers, so that every route can be tried
with ``curl`` on a fresh machine without any configuration.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from integration_bridge import (
    Adapter,
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    Contact,
    ContactTemplate,
    ContactUpdate,
    FollowUpWithIntegrationEntities,
    IntegrationDefinedOptions,
    IntegrationEntityType,
    IntegrationsEvent,
    LabeledIntegrationEntity,
    LoggedIntegrationEntity,
    OAuth2Credentials,
    ServerError,
    Task,
)

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannah",
    "Jonas",
    "Lena",
    "Leon",
    "Marie",
    "Noah",
    "Olivia",
    "Paul",
    "Sophie",
    "Tom",
    "Julia",
    "Lukas",
    "Mia",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Dubois",
    "Rossi",
    "Novak",
    "Jansen",
]
COMPANIES = ["sipgate", "Acme GmbH", "Globex Ltd", "Initech", "Umbrella AG", None]


def _phone(rng: random.Random) -> tuple[str, str]:
    """A realistic (label, number) pair in one of several national styles."""
    style = rng.randrange(7)
    if style == 0:
        return "MOBILE", f"+49 15{rng.randint(1, 9)} {rng.randint(10_000_000, 99_999_999)}"
    if style == 1:
        return "WORK", f"0211 {rng.randint(100_000, 999_999)}"
    if style == 2:
        return "WORK", f"+49 30 {rng.randint(1_000_000, 9_999_999)}"
    if style == 3:
        return "HOME", f"(415) 555-{rng.randint(1000, 9999)}"
    if style == 4:
        return "WORK", f"+44 20 7946 {rng.randint(1000, 9999)}"
    if style == 5:
        return "MOBILE", f"+43 664 {rng.randint(1_000_000, 9_999_999)}"
    return "DIRECTDIAL", str(rng.randint(10, 9999))


def generate_contacts(seed: str, count: int) -> list[dict[str, Any]]:
    """A deterministic address book for one user."""
    rng = random.Random(seed)
    contacts = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        numbers = [_phone(rng) for _ in range(rng.randint(1, 3))]
        organization = rng.choice(COMPANIES)
        contacts.append(
            {
                "id": f"c{index + 1}",
                "name": None,
                "firstName": first,
                "lastName": last,
                "email": f"{first}.{last}@example.com".lower(),
                "organization": organization,
                "contactUrl": f"https://crm.example.com/contacts/c{index + 1}",
                "avatarUrl": None,
                "phoneNumbers": [{"label": label, "phoneNumber": n} for label, n in numbers],
            }
        )
    return contacts


class DemoBridge(Adapter):
    """Implements most adapter methods against an in-memory address book per user."""

    contacts_per_user = 300
    page_size = 100

    def __init__(self) -> None:
        self._books: dict[str, dict[str, dict[str, Any]]] = {}
        self._ids = itertools.count(10_000)
        self._call_logs: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, dict[str, Any]] = {}

    def _book(self, config: Config) -> dict[str, dict[str, Any]]:
        if not config.api_key:
            raise ServerError(401, "Missing provider key (send x-provider-key)")
        book = self._books.get(config.api_key)
        if book is None:
            book = {c["id"]: c for c in generate_contacts(config.api_key, self.contacts_per_user)}
            self._books[config.api_key] = book
        return book

    async def is_valid_token(self, config: Config) -> bool:
        """Any non-empty key is valid, except ``invalid``."""
        return bool(config.api_key) and config.api_key != "invalid"

    async def get_account_id(self, config: Config) -> str:
        """The account id is derived from the key."""
        return f"account-{config.api_key[-4:]}" if config.api_key else ""

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        """The whole address book (after a short, CRM-like delay)."""
        await asyncio.sleep(0.05)
        return list(self._book(config).values())

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[dict[str, Any]]]:
        """The address book in pages."""
        contacts = list(self._book(config).values())
        for start in range(0, len(contacts), self.page_size):
            await asyncio.sleep(0.01)
            yield contacts[start : start + self.page_size]

    async def get_contact(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> dict[str, Any]:
        """One contact, 404 (delegated to the front end) when unknown."""
        contact = self._book(config).get(id)
        if contact is None:
            raise ServerError(404, f"Contact {id} not found")
        return contact

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Contact:
        """Store a new contact with a fresh id."""
        created = Contact.model_validate(
            {**contact.model_dump(exclude_unset=True), "id": f"c{next(self._ids)}"}
        )
        self._book(config)[created.id] = created.to_wire()
        return created

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Contact:
        """Replace a stored contact."""
        book = self._book(config)
        if id not in book:
            raise ServerError(404, f"Contact {id} not found")
        updated = Contact.model_validate({**contact.model_dump(exclude_unset=True), "id": id})
        book[id] = updated.to_wire()
        return updated

    async def delete_contact(self, config: Config, id: str) -> None:
        """Remove a stored contact."""
        if self._book(config).pop(id, None) is None:
            raise ServerError(404, f"Contact {id} not found")

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        """Log a call; answers the log id."""
        log_id = f"log{next(self._ids)}"
        self._call_logs[log_id] = event.to_wire()
        return log_id

    async def update_call_event(self, config: Config, id: str, event: CallEvent) -> None:
        """Update a call log."""
        self._call_logs[id] = event.to_wire()

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> list[LoggedIntegrationEntity]:
        """Log the call to each entity (reusing existing log ids)."""
        logged = []
        for entity in event.integration_entities:
            log_id = entity.log_id or f"log{next(self._ids)}"
            self._call_logs[log_id] = event.to_wire()
            logged.append(
                LoggedIntegrationEntity(
                    id=entity.id, type=entity.type, source=entity.source, log_id=log_id
                )
            )
        return logged

    async def create_call_log_for_phone_number(
        self, config: Config, event: CallEvent
    ) -> LoggedIntegrationEntity | None:
        """Log the call to the first contact with the remote number, if any."""
        remote = {p.phone_number for p in event.participants if p.type == "remote"}
        for contact in self._book(config).values():
            if any(n["phoneNumber"] in remote for n in contact["phoneNumbers"]):
                log_id = f"log{next(self._ids)}"
                self._call_logs[log_id] = event.to_wire()
                return LoggedIntegrationEntity(
                    id=contact["id"],
                    type=IntegrationEntityType.CONTACTS,
                    source="DEMO",
                    log_id=log_id,
                )
        return None

    async def get_call_log_metadata(self, config: Config) -> IntegrationDefinedOptions:
        """Call outcomes offered by the demo CRM."""
        return IntegrationDefinedOptions.model_validate(
            {
                "label": "Outcome",
                "type": "select",
                "options": [
                    {"label": "Reached", "key": "reached"},
                    {"label": "Left voicemail", "key": "voicemail"},
                ],
            }
        )

    async def get_entity(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> LabeledIntegrationEntity | None:
        """A contact as a labeled entity."""
        contact = self._book(config).get(id)
        if contact is None:
            return None
        label = " ".join(p for p in (contact["firstName"], contact["lastName"]) if p)
        return LabeledIntegrationEntity(id=id, type=type, source="DEMO", label=label)

    async def get_entities_for_contact(
        self, config: Config, contact_id: str
    ) -> list[LabeledIntegrationEntity]:
        """The contact's company, when it has one."""
        contact = self._book(config).get(contact_id)
        if contact is None or not contact.get("organization"):
            return []
        return [
            LabeledIntegrationEntity(
                id=f"company-{contact['organization']}",
                type=IntegrationEntityType.COMPANIES,
                source="DEMO",
                label=contact["organization"],
            )
        ]

    async def handle_connected_event(self, config: Config) -> None:
        """Nothing to set up."""

    async def handle_disconnected_event(self, config: Config) -> None:
        """Forget the user's data."""
        self._books.pop(config.api_key, None)

    async def get_health(self) -> None:
        """Always healthy."""

    async def get_task(self, config: Config, id: str) -> Task:
        """A stored follow-up task."""
        task = self._tasks.get(id)
        if task is None:
            raise ServerError(404, f"Task {id} not found")
        return Task.model_validate(task)

    async def create_follow_up(
        self, config: Config, follow_up: FollowUpWithIntegrationEntities
    ) -> str:
        """Store a follow-up task; answers its id."""
        task_id = f"task{next(self._ids)}"
        self._tasks[task_id] = {
            "id": task_id,
            "content": follow_up.content,
            "createdAt": 0,
            "dueAt": follow_up.due_at,
            "title": follow_up.title,
            "type": follow_up.type,
        }
        return task_id

    async def get_task_metadata(self, config: Config) -> IntegrationDefinedOptions:
        """Task types offered by the demo CRM."""
        return IntegrationDefinedOptions.model_validate(
            {
                "label": "Task type",
                "type": "select",
                "options": [{"label": "Call", "key": "call"}, {"label": "Email", "key": "email"}],
            }
        )

    async def handle_webhook(self, request: web.Request) -> list[IntegrationsEvent]:
        """``{"events": [...]}`` bodies become integration events."""
        body = await request.json()
        return [IntegrationsEvent.model_validate(event) for event in body.get("events", [])]

    async def verify_webhook_request(self, request: web.Request) -> bool:
        """Requests must carry ``x-demo-signature: demo``."""
        return request.headers.get("x-demo-signature") == "demo"

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        """A pretend authorize URL."""
        return "https://crm.example.com/oauth/authorize?client_id=demo"

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials:
        """Any ``code`` is exchanged for a key derived from it."""
        code = request.query.get("code")
        if not code:
            raise ServerError(400, "Missing code")
        return OAuth2Credentials(api_key=f"demo-{code}", api_url="https://crm.example.com")
