"""A demo bridge, written as a real one: over HTTP, against a fake CRM.

Run it with ``python -m integration_bridge run examples.demo_bridge:DemoBridge``.
At start-up it serves `examples.fake_crm.FakeCrm` on a free loopback port (set
``DEMO_CRM_URL`` to use another CRM of the same API). Each provider key
(``x-provider-key``) is a bearer token with its own generated address book of
a few hundred contacts. The bridge pages through the CRM with a per-user rate
limit and retries (the fake CRM throttles and fails now and then), and does
the OAuth2 authorization-code flow against the fake CRM's authorization server.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from examples.fake_crm import FakeCrm
from integration_bridge import (
    Adapter,
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    ContactTemplate,
    ContactUpdate,
    FollowUpWithIntegrationEntities,
    HttpError,
    IntegrationDefinedOptions,
    IntegrationEntityType,
    IntegrationsEvent,
    LabeledIntegrationEntity,
    LoggedIntegrationEntity,
    OAuth2Client,
    OAuth2Credentials,
    RateLimiter,
    ServerError,
    Task,
    build_url,
    iterate_pages,
    request_with_retry,
    retry_on_status,
    throw_and_delegate_error,
)

_CONTACTS = ("api", "contacts")


class DemoBridge(Adapter):
    """Contacts over the fake CRM's HTTP API; calls, tasks and events in memory."""

    page_size = 100

    def __init__(self) -> None:
        self.crm_url = os.environ.get("DEMO_CRM_URL", "")
        self._crm: FakeCrm | None = None
        self._session: aiohttp.ClientSession | None = None
        self._limiter = RateLimiter(20, 1.0)  # per user, as CRMs limit per token
        self._retry = retry_on_status(max_retries=5, base_delay=0.05)
        self._ids = iter(range(10_000, 10**9))
        self._call_logs: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, dict[str, Any]] = {}
        self.oauth: OAuth2Client | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the fake CRM (unless ``DEMO_CRM_URL`` points elsewhere) and a session."""
        if not self.crm_url:
            self._crm = FakeCrm()
            self.crm_url = await self._crm.start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        bridge_url = os.environ.get(
            "DEMO_BRIDGE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8080')}"
        )
        self.oauth = OAuth2Client(
            client_id="demo-client",
            client_secret="demo-secret",
            authorize_url_base=f"{self.crm_url}/oauth/authorize",
            token_url=f"{self.crm_url}/oauth/token",
            redirect_uri=f"{bridge_url}/oauth2/token",
            cookie_secret=os.environ.get("DEMO_COOKIE_SECRET", "demo-cookie-secret-32-bytes-long!"),
            api_url=self.crm_url,
            scopes=("contacts",),
            api_key_from_tokens=lambda tokens: tokens.access_token,
        )

    async def shutdown(self) -> None:
        """Close the session and stop the fake CRM."""
        if self._session is not None:
            await self._session.close()
        if self._crm is not None:
            await self._crm.stop()

    # -- HTTP plumbing --------------------------------------------------------------

    async def _call(
        self, config: Config, method: str, path: tuple[str, ...], source: str, **kwargs: Any
    ) -> Any:
        """One CRM request; ``path`` segments (ids included) are quoted one by one."""
        assert self._session is not None, "startup() has not run"
        headers = {"Authorization": f"Bearer {config.api_key}"}
        try:
            response = await request_with_retry(
                self._session,
                method,
                build_url(self.crm_url, *path),
                decide=self._retry,
                limiter=self._limiter,  # retries wait their turn too
                limit_key=config.api_key,
                headers=headers,
                **kwargs,
            )
        except (HttpError, aiohttp.ClientError) as error:
            throw_and_delegate_error(error, source, config.api_key)
        return response.json() if response.body else None

    async def _pages(self, config: Config) -> AsyncIterator[dict[str, Any]]:
        async def fetch(page: int) -> dict[str, Any]:
            params = {"page": page, "pageSize": self.page_size}
            result: dict[str, Any] = await self._call(
                config, "GET", _CONTACTS, "getContacts", params=params
            )
            return result

        async for page in iterate_pages(0, fetch, lambda _, body: body["nextPage"]):
            yield page

    # -- contacts -------------------------------------------------------------------

    async def is_valid_token(self, config: Config) -> bool:
        """A token is valid when the CRM answers a one-contact page."""
        try:
            await self._call(config, "GET", _CONTACTS, "isValidToken", params={"pageSize": 1})
        except ServerError:
            return False
        return True

    async def get_account_id(self, config: Config) -> str:
        """The account id is derived from the key."""
        return f"account-{config.api_key[-4:]}" if config.api_key else ""

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        """Every page of the address book."""
        return [contact async for page in self._pages(config) for contact in page["items"]]

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[dict[str, Any]]]:
        """The address book, page by page."""
        async for page in self._pages(config):
            yield page["items"]

    async def get_contact(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> dict[str, Any]:
        """One contact (404 is delegated to the front end)."""
        result: dict[str, Any] = await self._call(config, "GET", (*_CONTACTS, id), "getContact")
        return result

    async def create_contact(self, config: Config, contact: ContactTemplate) -> dict[str, Any]:
        """Create a contact in the CRM."""
        result: dict[str, Any] = await self._call(
            config, "POST", _CONTACTS, "createContact", json=contact.to_wire()
        )
        return result

    async def update_contact(
        self, config: Config, id: str, contact: ContactUpdate
    ) -> dict[str, Any]:
        """Update a contact in the CRM."""
        result: dict[str, Any] = await self._call(
            config, "PUT", (*_CONTACTS, id), "updateContact", json=contact.to_wire()
        )
        return result

    async def delete_contact(self, config: Config, id: str) -> None:
        """Delete a contact in the CRM."""
        await self._call(config, "DELETE", (*_CONTACTS, id), "deleteContact")

    async def get_entity(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> LabeledIntegrationEntity | None:
        """A contact as a labeled entity."""
        try:
            contact = await self.get_contact(config, id, type)
        except ServerError:
            return None
        label = " ".join(p for p in (contact.get("firstName"), contact.get("lastName")) if p)
        return LabeledIntegrationEntity(id=id, type=type, source="DEMO", label=label)

    async def get_entities_for_contact(
        self, config: Config, contact_id: str
    ) -> list[LabeledIntegrationEntity]:
        """The contact's company, when it has one."""
        contact = await self.get_contact(config, contact_id, IntegrationEntityType.CONTACTS)
        organization = contact.get("organization")
        if not organization:
            return []
        return [
            LabeledIntegrationEntity(
                id=f"company-{organization}",
                type=IntegrationEntityType.COMPANIES,
                source="DEMO",
                label=organization,
            )
        ]

    # -- calls, tasks, events (kept in memory) -----------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        """Log a call; answers the log id."""
        log_id = self._new_id("log")
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
            log_id = entity.log_id or self._new_id("log")
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
        for contact in await self.get_contacts(config):
            if any(n["phoneNumber"] in remote for n in contact["phoneNumbers"]):
                log_id = self._new_id("log")
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

    async def handle_connected_event(self, config: Config) -> None:
        """Nothing to set up."""

    async def handle_disconnected_event(self, config: Config) -> None:
        """Nothing to tear down."""

    async def get_health(self) -> None:
        """Healthy once started."""
        if self._session is None:
            raise ServerError(503, "Not started")

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
        task_id = self._new_id("task")
        self._tasks[task_id] = {
            "id": task_id,
            "content": follow_up.content,
            "createdAt": int(time.time() * 1000),
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

    # -- OAuth2 -----------------------------------------------------------------------

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        """The fake CRM's authorize URL; sets the signed nonce cookie."""
        assert self.oauth is not None
        return self.oauth.authorize_url(response)

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials:
        """Check the nonce and exchange the code at the fake CRM."""
        assert self.oauth is not None and self._session is not None
        return await self.oauth.handle_callback(request, response, session=self._session)
