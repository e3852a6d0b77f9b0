"""Which Pub/Sub a bridge publishes to, decided without contacting anything.

* ``PUBSUB_EMULATOR_HOST`` set → that emulator, no credentials;
* else explicit Google credentials (``GOOGLE_APPLICATION_CREDENTIALS`` or
  gcloud's application-default credentials file) → Google Pub/Sub;
* else the local publisher, which only logs.
"""

from __future__ import annotations

import json
import logging
import os
from enum import Enum
from pathlib import Path

from integration_bridge.adapter import Adapter
from integration_bridge.pubsub.local import LocalPublisher
from integration_bridge.pubsub.publisher import BatchingPublisher, Publisher
from integration_bridge.settings import Settings, SettingsError

__all__ = ["PubSubKind", "check_pubsub_settings", "create_publisher", "pubsub_kind", "topic_path"]

_log = logging.getLogger("integration_bridge.pubsub")

_LOCAL_DEFAULTS = {
    "integration_name": "integration-bridge",
    "pubsub_topic_name_contact_streaming": "contact-streaming",
    "pubsub_topic_name_integration_events": "integration-events",
    "pubsub_topic_name_update_provider_key": "provider-key-updates",
}


class PubSubKind(Enum):
    """Where messages go."""

    LOCAL = "local"
    EMULATOR = "emulator"
    GOOGLE = "google"


def _adc_file() -> Path:
    config_dir = os.environ.get("CLOUDSDK_CONFIG") or str(Path.home() / ".config" / "gcloud")
    return Path(config_dir) / "application_default_credentials.json"


def _credentials_file(settings: Settings) -> str | None:
    if settings.google_application_credentials:
        return settings.google_application_credentials
    adc = _adc_file()
    return str(adc) if adc.is_file() else None


def pubsub_kind(settings: Settings) -> PubSubKind:
    """Emulator, Google or local, from the settings and the credentials file alone."""
    if settings.pubsub_emulator_host:
        return PubSubKind.EMULATOR
    if _credentials_file(settings):
        return PubSubKind.GOOGLE
    return PubSubKind.LOCAL


def _project(settings: Settings) -> str | None:
    if settings.google_cloud_project:
        return settings.google_cloud_project
    path = _credentials_file(settings)
    if path:
        try:
            project = json.loads(Path(path).read_text()).get("project_id")
        except (OSError, ValueError):
            return None
        return project if isinstance(project, str) and project else None
    return None


def topic_path(name: str, project: str | None) -> str:
    """``projects/P/topics/T`` for a short name, the name itself when already full."""
    if name.startswith("projects/"):
        return name
    return f"projects/{project or 'local'}/topics/{name}"


def check_pubsub_settings(settings: Settings, adapter: Adapter) -> Settings:
    """The start-up checks of SPEC 7 and 8.

    Raises:
        SettingsError: a required name is missing with a real Pub/Sub.
    """
    kind = pubsub_kind(settings)
    if kind is PubSubKind.LOCAL:
        missing = {k: v for k, v in _LOCAL_DEFAULTS.items() if not getattr(settings, k)}
        if missing and (
            adapter.implements("stream_contacts") or adapter.implements("handle_webhook")
        ):
            _log.warning(
                "[PubSub] No Pub/Sub configured: messages are only logged (defaults for %s)",
                ", ".join(name.upper() for name in missing),
            )
        return settings.with_(**missing)
    required: list[str] = []
    if adapter.implements("stream_contacts"):
        required += ["integration_name", "pubsub_topic_name_contact_streaming"]
    if adapter.implements("handle_webhook"):
        required += ["integration_name", "pubsub_topic_name_integration_events"]
    for name in dict.fromkeys(required):
        if not getattr(settings, name):
            variable = name.upper()
            raise SettingsError(variable, f"required with {kind.value} Pub/Sub")
    topics = [
        settings.pubsub_topic_name_contact_streaming,
        settings.pubsub_additional_topic_name,
        settings.pubsub_topic_name_integration_events,
        settings.pubsub_topic_name_update_provider_key,
    ]
    short = [t for t in topics if t and not t.startswith("projects/")]
    if short and kind is PubSubKind.GOOGLE and not _project(settings):
        raise SettingsError(
            "GOOGLE_CLOUD_PROJECT", f"required for the short topic name {short[0]!r}"
        )
    if settings.google_cloud_project is None:
        settings = settings.with_(google_cloud_project=_project(settings))
    return settings


def create_publisher(settings: Settings) -> Publisher:
    """The publisher the settings ask for."""
    kind = pubsub_kind(settings)
    if kind is PubSubKind.LOCAL:
        return LocalPublisher()
    from gcloud.aio.pubsub import PublisherClient

    if kind is PubSubKind.EMULATOR:
        client = PublisherClient(
            api_root=f"http://{settings.pubsub_emulator_host}/v1", api_is_dev=True
        )
    else:
        client = PublisherClient(service_file=_credentials_file(settings))
    return BatchingPublisher(client, timeout=settings.pubsub_publish_timeout)
