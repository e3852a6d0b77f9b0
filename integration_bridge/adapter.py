"""The `Adapter` base class a bridge author subclasses, one per CRM.

Every method is optional. A method the subclass does not override answers
``501`` with a fixed message when its route is called; the framework tells
overridden methods apart with `implements` (e.g. to decide at start-up whether
Pub/Sub topics are required).
"""

from __future__ import annotations

from abc import ABC
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
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
    from integration_bridge.routing import RouteSource

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
    if not adapter.implements(method):
        raise _not_implemented(method)


class Adapter(ABC):  # noqa: B024 - every method is optional on purpose
    """The CRM-specific part of a bridge. Override only what the CRM supports.

    Methods may return the framework's pydantic models or plain dicts with
    camelCase or snake_case keys; the framework validates what it gets.
    ``config`` carries the caller's user id, provider key, API URL and locale
    (from the ``x-user-id``, ``x-provider-key``, ``x-provider-url`` and
    ``x-provider-locale`` headers).

    Errors, for every method: a `ServerError` answers its status with its
    message as a ``text/plain`` body; `throw_and_delegate_error` turns a CRM
    error into one (a 401/403/404/409/5xx of the CRM becomes a ``452`` the
    front end shows to the user); any other exception answers 500 ``Internal
    Server Error`` and its traceback is logged. A method that is not
    overridden raises ``ServerError(501, ...)`` with the original framework's
    message (`NOT_IMPLEMENTED_MESSAGES`).
    """

    def implements(self, method: str) -> bool:
        """Whether this adapter overrides ``method``.

        Args:
            method: the name of an `Adapter` method, e.g. ``"stream_contacts"``.

        Returns:
            True when the subclass overrides it.

        Raises:
            AttributeError: ``Adapter`` has no method of that name.
        """
        base = getattr(Adapter, method, None)  # `implements`, inlined: routes ask per request
        if base is None:
            raise AttributeError(f"Adapter has no method {method!r}")
        return getattr(type(self), method, base) is not base

    def routes(self) -> Iterable[RouteSource]:
        """Declare the bridge's own routes, mounted next to the framework's ones.

        The original's ``start(adapter, customRouters)``: whatever this returns
        is mounted by `create_app`, so ``python -m integration_bridge run``
        serves it too. Called once per app; build sub-applications here, not
        at import time (an aiohttp app can be mounted only once). The default
        declares none. Example::

            def routes(self):
                return [
                    gdpr_slack_notification_routes(os.environ["SLACK_WEBHOOK_URL"]),
                    web.get("/hello", self.hello),
                    ("/admin", self.admin_app()),
                ]

        Returns:
            `RouteSource` items: a ``web.RouteTableDef``, single route defs
            (``web.get(...)``), or ``(prefix, sub_app)`` pairs.

        Raises:
            Exception: any exception stops the app from being built (start-up).
        """
        return ()

    async def startup(self) -> None:  # noqa: B027 - optional hook
        """Open what the bridge needs (HTTP sessions, clients), once, before the first request.

        Serves no route; called by the app's start-up, after the settings were
        checked. The default does nothing.

        Raises:
            Exception: any exception stops the server's start-up.
        """

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Close what `startup` opened, once, after the server stopped taking requests.

        Serves no route; running contact streams have drained by then. The
        default does nothing.
        """

    async def get_token(self, config: Config) -> str:
        """Return the (possibly refreshed) provider key.

        Serves no route of its own: after a successful ``GET /contacts``,
        ``POST /contacts/stream`` and ``POST``/``PUT``/``DELETE /contacts``
        its result is sent as the ``X-Provider-Key`` response header, so the
        front end stores a refreshed key.

        Args:
            config: the caller's configuration.

        Returns:
            The provider key the front end should use from now on.

        Raises:
            ServerError: a failure is logged and ignored by ``GET /contacts``
                and the stream; it fails the write routes.
        """
        raise _not_implemented("get_token")

    async def is_valid_token(self, config: Config) -> bool:
        """Tell whether ``config.api_key`` is still accepted by the CRM.

        Serves ``GET /validate-token``.

        Args:
            config: the caller's configuration.

        Returns:
            True answers 200 ``OK``; False answers 401 ``Token is not valid``.

        Raises:
            ServerError: answered with its status (501 when not overridden).
        """
        raise _not_implemented("is_valid_token")

    async def get_account_id(self, config: Config) -> str:
        """Return the CRM account (tenant) id of the caller.

        Serves ``GET /account/id``, which answers the id as a JSON string.

        Args:
            config: the caller's configuration.

        Returns:
            The account id; an empty result answers 500 ``AccountID not found``.

        Raises:
            ServerError: answered with its status (501 when not overridden).
        """
        raise _not_implemented("get_account_id")

    async def get_contact(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> Contact | Json:
        """Fetch one contact (or other entity type) by id.

        Serves ``GET /contacts/{id}?type=T``; a missing or unknown ``type``
        answers 400 before this is called.

        Args:
            config: the caller's configuration.
            id: the CRM id from the path (already checked: no ``/``, ``..``,
                control characters).
            type: which kind of entity the id belongs to.

        Returns:
            The contact; it is sanitized, and unknown fields are passed
            through to the caller.

        Raises:
            ServerError: answered with its status; raise
                ``DelegateToFrontendError(IntegrationErrorType.ENTITY_NOT_FOUND)``
                (or let `throw_and_delegate_error` map the CRM's 404) for an
                unknown id.
        """
        raise _not_implemented("get_contact")

    async def get_contacts(self, config: Config) -> Sequence[Contact | Json]:
        """Fetch all contacts of the caller. The framework caches the result.

        Serves ``GET /contacts`` through the contact cache: a cached list is
        answered at once and refreshed in the background when stale; a fetch
        that takes longer than ``CONTACT_FETCH_TIMEOUT`` answers ``[]`` with
        ``X-Fetching-State: pending`` and goes on filling the cache.

        Args:
            config: the caller's configuration.

        Returns:
            Every contact; validated (invalid → 500 ``Invalid contacts
            received: ...``) and sanitized by the framework.

        Raises:
            ServerError: answered with its status; nothing is cached.
        """
        raise _not_implemented("get_contacts")

    def stream_contacts(self, config: Config) -> AsyncIterator[Sequence[Contact | Json]]:
        """Yield the caller's contacts page by page (write it as an ``async def`` generator).

        Serves ``POST /contacts/stream``, which answers ``{"timestamp": ...}``
        at once and runs the generator in the background. Each yielded list is
        published as one ``IN_PROGRESS`` stream message (split when too
        large; an invalid batch is logged and skipped); the end of the
        generator publishes ``COMPLETE``. Overriding it makes the Pub/Sub
        contact streaming topic required at start-up.

        Args:
            config: the caller's configuration.

        Returns:
            An async iterator of contact batches.

        Raises:
            Exception: any exception ends the stream with a ``FAILED`` message;
                the HTTP answer was already sent.
        """
        raise _not_implemented("stream_contacts")

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Contact | Json:
        """Create a contact and return it as the CRM stored it.

        Serves ``POST /contacts``; an invalid body answers 400 before this is
        called. The returned contact is validated (invalid → 500), sanitized,
        answered and appended to the cached list, if one is cached.

        Args:
            config: the caller's configuration.
            contact: the validated request body (fields the framework does not
                know are kept).

        Returns:
            The stored contact, with its CRM id.

        Raises:
            ServerError: answered with its status (e.g. a 452
                ``contact/create-error/conflict``).
        """
        raise _not_implemented("create_contact")

    async def update_contact(
        self, config: Config, id: str, contact: ContactUpdate
    ) -> Contact | Json:
        """Update the contact with the given id and return it as stored.

        Serves ``PUT /contacts/{id}``; an invalid body answers 400 before this
        is called. The returned contact is validated, sanitized, answered and
        replaces the cached entry with its id.

        Args:
            config: the caller's configuration.
            id: the CRM id from the path.
            contact: the validated request body, with ``id`` set to the path id.

        Returns:
            The stored contact.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("update_contact")

    async def delete_contact(self, config: Config, id: str) -> None:
        """Delete the contact with the given id.

        Serves ``DELETE /contacts/{id}``, which answers 200 with an empty body
        and removes the entry from the cached list.

        Args:
            config: the caller's configuration.
            id: the CRM id from the path.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("delete_contact")

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        """Log a call (deprecated: use `create_or_update_call_log_for_entities`).

        Serves ``POST /events/calls``; a call whose remote participant has a
        number of at most 5 characters is skipped (200 ``Skipping call
        event``) without calling this.

        Args:
            config: the caller's configuration.
            event: the validated call event.

        Returns:
            A reference to the created log entry, sent as the response body.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("handle_call_event")

    async def update_call_event(self, config: Config, id: str, event: CallEvent) -> None:
        """Update a logged call (deprecated).

        Serves ``PUT /events/calls/{id}``, which answers 200 with an empty body.

        Args:
            config: the caller's configuration.
            id: the reference `handle_call_event` returned.
            event: the validated call event.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("update_call_event")

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> Sequence[LoggedIntegrationEntity | Json]:
        """Log a call to each given entity, updating the logs that have a ``log_id``.

        Serves ``PUT /call-log``; a skipped call (short remote number)
        answers ``[]`` without calling this.

        Args:
            config: the caller's configuration.
            event: the call with the entities to log it to.

        Returns:
            The entities with the ids of their log entries, sent as returned.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("create_or_update_call_log_for_entities")

    async def create_call_log_for_phone_number(
        self, config: Config, event: CallEvent
    ) -> LoggedIntegrationEntity | Json | None:
        """Log a call to whatever the remote phone number belongs to, if anything.

        Serves ``PUT /call-log/phoneNumber``; a skipped call answers an empty
        body without calling this.

        Args:
            config: the caller's configuration.
            event: the validated call event.

        Returns:
            The entity the call was logged to, or None (an empty body).

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("create_call_log_for_phone_number")

    async def get_call_log_metadata(self, config: Config) -> IntegrationDefinedOptions | Json:
        """Describe the call log options the CRM offers (e.g. outcomes).

        Serves ``GET /call-log-metadata``.

        Args:
            config: the caller's configuration.

        Returns:
            The options, answered as JSON.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_call_log_metadata")

    async def get_entity(
        self, config: Config, id: str, type: IntegrationEntityType
    ) -> LabeledIntegrationEntity | Json | None:
        """Fetch one entity by type and id, or None when there is none.

        Serves ``GET /entity/{type}/{id}``.

        Args:
            config: the caller's configuration.
            id: the CRM id from the path.
            type: the entity type from the path.

        Returns:
            The labeled entity, or None (an empty body).

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_entity")

    async def get_entities_for_contact(
        self, config: Config, contact_id: str
    ) -> Sequence[LabeledIntegrationEntity | Json]:
        """List the entities (deals, companies, ...) a contact belongs to.

        Serves ``GET /contacts/{id}/entities``.

        Args:
            config: the caller's configuration.
            contact_id: the contact's CRM id from the path.

        Returns:
            The entities, answered as a JSON list.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_entities_for_contact")

    async def handle_connected_event(self, config: Config) -> None:
        """Called when a user connects the integration.

        Serves ``POST /events/connected``, which answers 200 with an empty body.

        Args:
            config: the caller's configuration.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("handle_connected_event")

    async def handle_disconnected_event(self, config: Config) -> None:
        """Called when a user disconnects the integration.

        Serves ``POST /events/disconnected``, which answers 200 with an empty body.

        Args:
            config: the caller's configuration.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("handle_disconnected_event")

    async def get_health(self) -> None:
        """Check the bridge's own health (e.g. that `startup` opened its session).

        Serves ``GET /health``, the readiness and liveness probe: it answers
        200 ``OK`` when this returns, or when it is not overridden.

        Raises:
            ServerError: answered with its status (e.g. 503), so the probe fails.
        """
        raise _not_implemented("get_health")

    async def get_oauth2_redirect_url(self, request: web.Request, response: web.Response) -> str:
        """Return the CRM's authorize URL; may set cookies (a nonce) on ``response``.

        Serves ``GET /oauth2/redirect``, which answers ``{"redirectUrl": ...}``.
        `OAuth2Client.authorize_url` builds the URL and sets the signed nonce
        cookie.

        Args:
            request: the aiohttp request.
            response: the response the framework will send; set cookies on it.

        Returns:
            The URL the user's browser is sent to.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_oauth2_redirect_url")

    async def handle_oauth2_callback(
        self, request: web.Request, response: web.Response
    ) -> OAuth2Credentials | Json:
        """Exchange the authorization code in ``request`` for credentials.

        Serves ``GET /oauth2/callback`` (302 to ``OAUTH2_REDIRECT_URL`` with
        ``name``, ``key`` and ``url``, or without them on failure) and
        ``GET /oauth2/token`` (200 ``{"apiKey": ..., "apiUrl": ...}``).
        `OAuth2Client.handle_callback` checks the state and nonce cookie and
        exchanges the code.

        Args:
            request: the aiohttp request carrying ``code`` and ``state``.
            response: the response the framework will send (clear the nonce
                cookie on it).

        Returns:
            The credentials: the new provider key and the CRM's API URL.

        Raises:
            ServerError: on ``/oauth2/token`` answered with its status; on
                ``/oauth2/callback`` any error redirects without credentials.
        """
        raise _not_implemented("handle_oauth2_callback")

    async def handle_webhook(self, request: web.Request) -> Sequence[IntegrationsEvent | Json]:
        """Turn a CRM webhook request into integration events to publish.

        Serves ``POST /webhook`` together with `verify_webhook_request` (501
        unless both are overridden). The events, exact duplicates removed,
        are published to ``PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS``; the answer
        is 200 ``OK`` once all are published, else 503 so the CRM retries.
        Overriding it makes that topic required at start-up.

        Args:
            request: the verified aiohttp request; read its body here.

        Returns:
            The events to publish (may be empty).

        Raises:
            ServerError: answered with its status; a body the adapter cannot
                read should answer 400.
        """
        raise _not_implemented("handle_webhook")

    async def verify_webhook_request(self, request: web.Request) -> bool:
        """Tell whether a webhook request really comes from the CRM.

        Serves ``POST /webhook``, before `handle_webhook`.

        Args:
            request: the aiohttp request (check its signature header).

        Returns:
            False answers 403 ``Webhook verification failed``.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("verify_webhook_request")

    async def get_task(self, config: Config, id: str) -> Task | Json:
        """Fetch one task by id.

        Serves ``GET /tasks/{id}``.

        Args:
            config: the caller's configuration.
            id: the task id from the path.

        Returns:
            The task, answered as JSON.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_task")

    async def create_follow_up(
        self, config: Config, follow_up: FollowUpWithIntegrationEntities
    ) -> str:
        """Create a follow-up task and return its id.

        Serves ``POST /tasks``, which answers ``{"followUpId": ...}``.

        Args:
            config: the caller's configuration.
            follow_up: the validated follow-up with the entities it concerns.

        Returns:
            The id of the created task.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("create_follow_up")

    async def get_task_metadata(self, config: Config) -> IntegrationDefinedOptions | Json:
        """Describe the task options the CRM offers (e.g. task types).

        Serves ``GET /task-metadata``.

        Args:
            config: the caller's configuration.

        Returns:
            The options, answered as JSON.

        Raises:
            ServerError: answered with its status.
        """
        raise _not_implemented("get_task_metadata")
