"""The `Adapter` base class a bridge author subclasses, one per CRM.

Every method is optional. A method the subclass does not override answers
``501`` with a fixed message when its route is called; the framework tells
overridden methods apart with `implements` (e.g. to decide at start-up whether
Pub/Sub topics are required).
"""

from __future__ import annotations

from abc import ABC
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from integration_bridge.errors import ServerError

if TYPE_CHECKING:
    from aiohttp import web

    from integration_bridge.models import (
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
        Task,
    )

__all__ = ["NOT_IMPLEMENTED_MESSAGES", "Adapter", "implements", "require"]

Json = Mapping[str, Any]
"""A plain dict an adapter may return instead of a model (camelCase or snake_case keys)."""

NOT_IMPLEMENTED_MESSAGES: dict[str, str] = {
    "get_contacts": "Fetching contacts is not implemented",
    "get_contact": "Getting single contact is not implemented",
    "create_contact": "Creating contacts is not implemented",
    "update_contact": "Updating contacts is not implemented",
    "delete_contact": "Deleting contacts is not implemented",
    "stream_contacts": "Streaming contacts is not implemented",
    "is_valid_token": "Token validation function is not implemented",
    "get_account_id": "Fetching account id is not implemented",
    "get_entity": "Fetching Entity is not implemented",
    "get_entities_for_contact": "Fetching Entities for contact is not implemented",
    "handle_call_event": "Handling call event is not implemented",
    "update_call_event": "Updating call events is not implemented",
    "handle_connected_event": "Handling connected event is not implemented",
    "handle_disconnected_event": "Handling disconnected event is not implemented",
    "create_or_update_call_log_for_entities": "Updating call log with entities is not implemented",
    "create_call_log_for_phone_number": "Creating call log for phoneNumber is not implemented",
    "get_oauth2_redirect_url": "OAuth2 flow not implemented",
    "handle_oauth2_callback": "OAuth2 flow not implemented",
    "handle_webhook": "Webhook handling not implemented",
    "verify_webhook_request": "Webhook verification not implemented",
    "get_task": "Method not implemented",
    "create_follow_up": "Method not implemented",
    "get_task_metadata": "Method not implemented",
    "get_call_log_metadata": "Method not implemented",
    "get_token": "Token refresh is not implemented",
    "get_health": "Health check is not implemented",
}


def _not_implemented(method: str) -> ServerError:
    return ServerError(501, NOT_IMPLEMENTED_MESSAGES[method])


def implements(adapter: Adapter, method: str) -> bool:
    """Whether ``adapter``'s class overrides ``Adapter.<method>``."""
    base = getattr(Adapter, method, None)
    if base is None:
        raise AttributeError(f"Adapter has no method {method!r}")
    return getattr(type(adapter), method, base) is not base


def require(adapter: Adapter, method: str) -> None:
    """Raise the 501 `ServerError` of ``method`` unless ``adapter`` implements it."""
    if not implements(adapter, method):
        raise _not_implemented(method)


class Adapter(ABC):  # noqa: B024 - every method is optional on purpose
    """The CRM-specific part of a bridge. Override only what the CRM supports.

    Methods may return the framework's pydantic models or plain dicts with
    camelCase or snake_case keys; the framework validates what it gets.
    ``config`` carries the caller's user id, provider key, API URL and locale.
    """

    def implements(self, method: str) -> bool:
        """Whether this adapter overrides ``method``."""
        return implements(self, method)

    async def startup(self) -> None:  # noqa: B027 - optional hook
        """Called once before the server takes requests (open sessions, clients)."""

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Called once after the server stopped taking requests (close what `startup` opened)."""

    async def get_token(self, config: Config) -> str:
        """Return the (possibly refreshed) provider key.

        Sent back as the ``X-Provider-Key`` header after contact routes.

        Args:
            config: the caller's configuration.

        Returns:
            The provider key the front end should use from now on.
        """
        raise _not_implemented("get_token")

    async def is_valid_token(self, config: Config) -> bool:
        """Tell whether ``config.api_key`` is still accepted by the CRM.

        Returns:
            False answers 401 ``Token is not valid``.
        """
        raise _not_implemented("is_valid_token")

    async def get_account_id(self, config: Config) -> str:
        """Return the CRM account (tenant) id of the caller."""
        raise _not_implemented("get_account_id")

    async def get_contact(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> Contact | Json:
        """Fetch one contact (or other entity type) by id.

        Args:
            config: the caller's configuration.
            id: the CRM id.
            type: which kind of entity the id belongs to.

        Returns:
            The contact; unknown fields are passed through to the caller.
        """
        raise _not_implemented("get_contact")

    async def get_contacts(self, config: Config) -> Sequence[Contact | Json]:
        """Fetch all contacts of the caller. The framework caches the result.

        Returns:
            Every contact; validated and sanitized by the framework.
        """
        raise _not_implemented("get_contacts")

    def stream_contacts(self, config: Config) -> AsyncIterator[Sequence[Contact | Json]]:
        """Yield the caller's contacts page by page (write it as ``async def`` generator).

        Each yielded list is published as one ``IN_PROGRESS`` stream message
        (split when too large); the end of the generator publishes ``COMPLETE``,
        an exception ``FAILED``.
        """
        raise _not_implemented("stream_contacts")

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Contact | Json:
        """Create a contact and return it as the CRM stored it."""
        raise _not_implemented("create_contact")

    async def update_contact(
        self, config: Config, id: str, contact: ContactUpdate
    ) -> Contact | Json:
        """Update the contact with the given id and return it as stored."""
        raise _not_implemented("update_contact")

    async def delete_contact(self, config: Config, id: str) -> None:
        """Delete the contact with the given id."""
        raise _not_implemented("delete_contact")

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        """Log a call (deprecated: use `create_or_update_call_log_for_entities`).

        Returns:
            A reference to the created log entry, sent as the response body.
        """
        raise _not_implemented("handle_call_event")

    async def update_call_event(self, config: Config, id: str, event: CallEvent) -> None:
        """Update a logged call (deprecated)."""
        raise _not_implemented("update_call_event")

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> Sequence[LoggedIntegrationEntity | Json]:
        """Log a call to each given entity, updating the logs that have a ``log_id``.

        Returns:
            The entities with the ids of their log entries.
        """
        raise _not_implemented("create_or_update_call_log_for_entities")

    async def create_call_log_for_phone_number(
        self, config: Config, event: CallEvent
    ) -> LoggedIntegrationEntity | Json | None:
        """Log a call to whatever the remote phone number belongs to, if anything."""
        raise _not_implemented("create_call_log_for_phone_number")

    async def get_call_log_metadata(self, config: Config) -> IntegrationDefinedOptions | Json:
        """Describe the call log options the CRM offers (e.g. outcomes)."""
        raise _not_implemented("get_call_log_metadata")

    async def get_entity(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> LabeledIntegrationEntity | Json | None:
        """Fetch one entity by type and id, or None when there is none."""
        raise _not_implemented("get_entity")

    async def get_entities_for_contact(
        self, config: Config, contact_id: str
    ) -> Sequence[LabeledIntegrationEntity | Json]:
        """List the entities (deals, companies, ...) a contact belongs to."""
        raise _not_implemented("get_entities_for_contact")

    async def handle_connected_event(self, config: Config) -> None:
        """Called when a user connects the integration."""
        raise _not_implemented("handle_connected_event")

    async def handle_disconnected_event(self, config: Config) -> None:
        """Called when a user disconnects the integration."""
        raise _not_implemented("handle_disconnected_event")

    async def get_health(self) -> None:
        """Raise when the bridge is unhealthy; GET /health answers 200 otherwise."""
        raise _not_implemented("get_health")

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        """Return the CRM's authorize URL; may set cookies (a nonce) on ``response``."""
        raise _not_implemented("get_oauth2_redirect_url")

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials | Json:
        """Exchange the authorization code in ``request`` for credentials."""
        raise _not_implemented("handle_oauth2_callback")

    async def handle_webhook(self, request: web.Request) -> Sequence[IntegrationsEvent | Json]:
        """Turn a CRM webhook request into integration events to publish."""
        raise _not_implemented("handle_webhook")

    async def verify_webhook_request(self, request: web.Request) -> bool:
        """Tell whether a webhook request really comes from the CRM."""
        raise _not_implemented("verify_webhook_request")

    async def get_task(self, config: Config, id: str) -> Task | Json:
        """Fetch one task by id."""
        raise _not_implemented("get_task")

    async def create_follow_up(
        self, config: Config, follow_up: FollowUpWithIntegrationEntities
    ) -> str:
        """Create a follow-up task and return its id."""
        raise _not_implemented("create_follow_up")

    async def get_task_metadata(self, config: Config) -> IntegrationDefinedOptions | Json:
        """Describe the task options the CRM offers (e.g. task types)."""
        raise _not_implemented("get_task_metadata")
