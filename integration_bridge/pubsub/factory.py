"""Which Pub/Sub a bridge publishes to (SPEC 7), and opening it.

* ``PUBSUB_BACKEND`` (``google``, ``emulator``, ``local``) chooses explicitly;
* else ``PUBSUB_EMULATOR_HOST`` set → that emulator, no credentials;
* else any topic variable set → Google Pub/Sub with Application Default
  Credentials (key file, gcloud's file, metadata server), at
  ``PUBSUB_API_ENDPOINT``;
* else the local publisher, which only logs.

Topics configured but no Google credentials is a start-up error, never a
silent fall back to the local publisher: that would lose every message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlparse

from integration_bridge.adapter import Adapter
from integration_bridge.pubsub.credentials import GoogleCredentials
from integration_bridge.pubsub.local import LocalPublisher
from integration_bridge.pubsub.publisher import BatchingPublisher, Publisher
from integration_bridge.settings import Settings, SettingsError

__all__ = [
    "BackendChoice",
    "PubSubBackend",
    "api_root",
    "check_pubsub_settings",
    "choose_backend",
    "open_publisher",
    "topic_path",
]

_log = logging.getLogger("integration_bridge.pubsub")

_LOCAL_DEFAULTS = {
    "integration_name": "integration-bridge",
    "pubsub_topic_name_contact_streaming": "contact-streaming",
    "pubsub_topic_name_integration_events": "integration-events",
    "pubsub_topic_name_update_provider_key": "provider-key-updates",
}

_TOPIC_VARIABLES = {
    "pubsub_topic_name_contact_streaming": "PUBSUB_TOPIC_NAME_CONTACT_STREAMING",
    "pubsub_additional_topic_name": "PUBSUB_ADDITIONAL_TOPIC_NAME",
    "pubsub_topic_name_integration_events": "PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS",
    "pubsub_topic_name_update_provider_key": "PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY",
}


class PubSubBackend(Enum):
    """Where messages go."""

    LOCAL = "local"
    EMULATOR = "emulator"
    GOOGLE = "google"


@dataclass(frozen=True)
class BackendChoice:
    """The backend and why it was chosen (for the start-up line)."""

    backend: PubSubBackend
    reason: str


def choose_backend(settings: Settings) -> BackendChoice:
    """The backend, from the settings alone.

    Raises:
        SettingsError: ``PUBSUB_BACKEND`` is not a known backend.
    """
    if settings.pubsub_backend:
        try:
            backend = PubSubBackend(settings.pubsub_backend.strip().lower())
        except ValueError:
            raise SettingsError(
                "PUBSUB_BACKEND",
                f"expected google, emulator or local, got {settings.pubsub_backend!r}",
            ) from None
        return BackendChoice(backend, f"PUBSUB_BACKEND={backend.value}")
    if settings.pubsub_emulator_host:
        return BackendChoice(PubSubBackend.EMULATOR, "PUBSUB_EMULATOR_HOST is set")
    configured = [
        variable for field, variable in _TOPIC_VARIABLES.items() if getattr(settings, field)
    ]
    if configured:
        return BackendChoice(PubSubBackend.GOOGLE, f"{configured[0]} is set")
    return BackendChoice(PubSubBackend.LOCAL, "no Pub/Sub topic is configured")


def api_root(endpoint: str) -> str:
    """The REST v1 root under ``PUBSUB_API_ENDPOINT`` (a bare ``host:port`` means https)."""
    value = endpoint.strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    if urlparse(value).path.rstrip("/").endswith("/v1"):
        return value
    return f"{value}/v1"


def topic_path(name: str, project: str | None) -> str:
    """``projects/P/topics/T`` for a short name, the name itself when already full."""
    if name.startswith("projects/"):
        return name
    return f"projects/{project or 'local'}/topics/{name}"


def _short_topics(settings: Settings) -> list[str]:
    names = [getattr(settings, field) for field in _TOPIC_VARIABLES]
    return [name for name in names if name and not name.startswith("projects/")]


def check_pubsub_settings(settings: Settings, adapter: Adapter) -> Settings:
    """The start-up checks of SPEC 7 and 8 that need nothing but the settings.

    Raises:
        SettingsError: a required name is missing with a real Pub/Sub.
    """
    backend = choose_backend(settings).backend
    if backend is PubSubBackend.LOCAL:
        missing = {k: v for k, v in _LOCAL_DEFAULTS.items() if not getattr(settings, k)}
        if missing and (
            adapter.implements("stream_contacts") or adapter.implements("handle_webhook")
        ):
            _log.warning(
                "[PubSub] No Pub/Sub configured: messages are only logged (defaults for %s)",
                ", ".join(name.upper() for name in missing),
            )
        return settings.with_(**missing)
    if backend is PubSubBackend.EMULATOR and not settings.pubsub_emulator_host:
        raise SettingsError("PUBSUB_EMULATOR_HOST", "required with PUBSUB_BACKEND=emulator")
    required: list[str] = []
    if adapter.implements("stream_contacts"):
        required += ["integration_name", "pubsub_topic_name_contact_streaming"]
    if adapter.implements("handle_webhook"):
        required += ["integration_name", "pubsub_topic_name_integration_events"]
    for name in dict.fromkeys(required):
        if not getattr(settings, name):
            variable = name.upper()
            raise SettingsError(variable, f"required with {backend.value} Pub/Sub")
    return settings


async def open_publisher(
    settings: Settings, choice: BackendChoice | None = None
) -> tuple[Publisher, Settings]:
    """Open the chosen publisher (`choose_backend` when None); log one line naming it and why.

    Returns the publisher and the settings with the Google project filled in
    (from ``GOOGLE_CLOUD_PROJECT``, the key file, or the metadata server).

    Raises:
        SettingsError: no Google credentials, or no project for a short topic name.
    """
    choice = choice or choose_backend(settings)
    if choice.backend is PubSubBackend.LOCAL:
        _log.info("[PubSub] Local publisher: messages are only logged (%s)", choice.reason)
        return LocalPublisher(), settings
    # Not at module top: see `BatchingPublisher` (gcloud-aio-pubsub loads prometheus-client).
    from gcloud.aio.pubsub import PublisherClient

    if choice.backend is PubSubBackend.EMULATOR:
        root = f"http://{settings.pubsub_emulator_host}/v1"
        client = PublisherClient(api_root=root, api_is_dev=True)
        _log.info("[PubSub] Emulator at %s (%s)", settings.pubsub_emulator_host, choice.reason)
        return BatchingPublisher(client, timeout=settings.pubsub_publish_timeout), settings

    credentials = GoogleCredentials(settings.google_application_credentials)
    try:
        await credentials.check(settings.pubsub_credentials_timeout)
        project = settings.google_cloud_project or credentials.project()
        if project is None and _short_topics(settings):
            project = await credentials.metadata_project()
            if project is None:
                raise SettingsError(
                    "GOOGLE_CLOUD_PROJECT",
                    f"required for the short topic name {_short_topics(settings)[0]!r}",
                )
    except BaseException:
        await credentials.close()
        raise
    root = api_root(settings.pubsub_api_endpoint)
    # api_is_dev=False: every request carries the bearer token, whatever the endpoint.
    client = PublisherClient(token=credentials.token, api_root=root, api_is_dev=False)
    _log.info(
        "[PubSub] Google Pub/Sub at %s, project %s, credentials: %s (%s)",
        root,
        project or "-",
        credentials.source,
        choice.reason,
    )
    publisher = BatchingPublisher(
        client, timeout=settings.pubsub_publish_timeout, on_close=credentials.close
    )
    return publisher, settings.with_(google_cloud_project=project)
