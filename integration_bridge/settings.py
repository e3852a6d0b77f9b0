"""One typed settings object, read from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlparse

__all__ = ["Settings", "SettingsError"]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A wrong environment value; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def _number(kind: type[T], minimum: float | None = None) -> Callable[[str, str], T]:
    def parse(name: str, raw: str) -> T:
        try:
            value = kind(raw.strip())  # type: ignore[call-arg]
        except ValueError:
            raise SettingsError(name, f"expected a number, got {raw!r}") from None
        if minimum is not None and value < minimum:  # type: ignore[operator]
            raise SettingsError(name, f"must be at least {minimum}, got {raw!r}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(name, f"expected true or false, got {raw!r}")


def _redis_url(name: str, raw: str) -> str:
    parsed = urlparse(raw.strip())
    if parsed.scheme not in {"redis", "rediss", "unix"} or not (parsed.hostname or parsed.path):
        raise SettingsError(name, "expected a URL like redis://host:6379/0")
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError(name, "the port is not a number") from None
    return raw.strip()


def _origins(name: str, raw: str) -> tuple[str, ...] | None:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items or items == ("*",):
        return None
    return items


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator configures (SPEC section 10), with defaults."""

    port: int = 8080
    integration_name: str | None = None
    redis_url: str | None = None
    cache_disabled: bool = False
    cache_refresh_interval: float = 1800.0
    memory_cache_ttl_seconds: float = 30 * 24 * 3600.0
    memory_cache_max_bytes: int = 400 * 1024 * 1024
    memory_cache_hot_bytes: int = 8 * 1024 * 1024
    redis_cache_ttl_seconds: float = 30 * 24 * 3600.0
    redis_timeout: float = 1.0
    contact_fetch_timeout: float = 5.0
    oauth2_redirect_url: str | None = None
    oauth2_identifier: str | None = None
    token_cache_ttl: float = 3540.0
    pubsub_topic_name_contact_streaming: str | None = None
    pubsub_additional_topic_name: str | None = None
    pubsub_topic_name_integration_events: str | None = None
    pubsub_topic_name_update_provider_key: str | None = None
    google_cloud_project: str | None = None
    pubsub_emulator_host: str | None = None
    google_application_credentials: str | None = None
    pubsub_publish_timeout: float = 10.0
    product_name: str = "CLINQ"
    max_body_size: int = 1024 * 1024
    cors_origins: tuple[str, ...] | None = None
    shutdown_timeout: float = 30.0
    log_level: str = "INFO"
    log_plain: bool = False

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (handy in tests)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment.

        Raises:
            SettingsError: a value is malformed; the message names the variable.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        def parsed(name: str, parse: Callable[[str, str], Any], default: Any) -> Any:
            raw = get(name)
            return default if raw is None else parse(name, raw)

        seconds = _number(float, 0)
        settings = cls(
            port=parsed("PORT", _number(int, 0), 8080),
            integration_name=get("INTEGRATION_NAME"),
            redis_url=parsed("REDIS_URL", _redis_url, None),
            cache_disabled=parsed("CACHE_DISABLED", _bool, False),
            cache_refresh_interval=max(1.0, parsed("CACHE_REFRESH_INTERVAL", seconds, 1800.0)),
            memory_cache_ttl_seconds=parsed(
                "MEMORY_CACHE_TTL_SECONDS", _number(float, 1), 30 * 24 * 3600.0
            ),
            memory_cache_max_bytes=parsed(
                "MEMORY_CACHE_MAX_BYTES", _number(int, 1), 400 * 1024 * 1024
            ),
            memory_cache_hot_bytes=parsed(
                "MEMORY_CACHE_HOT_BYTES", _number(int, 0), 8 * 1024 * 1024
            ),
            redis_cache_ttl_seconds=parsed(
                "REDIS_CACHE_TTL_SECONDS", _number(float, 1), 30 * 24 * 3600.0
            ),
            redis_timeout=parsed("REDIS_TIMEOUT", _number(float, 0.01), 1.0),
            contact_fetch_timeout=parsed("CONTACT_FETCH_TIMEOUT", seconds, 5.0),
            oauth2_redirect_url=get("OAUTH2_REDIRECT_URL"),
            oauth2_identifier=get("OAUTH2_IDENTIFIER"),
            token_cache_ttl=parsed("TOKEN_CACHE_TTL", _number(float, 1), 3540.0),
            pubsub_topic_name_contact_streaming=get("PUBSUB_TOPIC_NAME_CONTACT_STREAMING")
            or get("PUBSUB_TOPIC_NAME"),
            pubsub_additional_topic_name=get("PUBSUB_ADDITIONAL_TOPIC_NAME"),
            pubsub_topic_name_integration_events=get("PUBSUB_TOPIC_NAME_INTEGRATION_EVENTS"),
            pubsub_topic_name_update_provider_key=get("PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY"),
            google_cloud_project=get("GOOGLE_CLOUD_PROJECT"),
            pubsub_emulator_host=get("PUBSUB_EMULATOR_HOST"),
            google_application_credentials=get("GOOGLE_APPLICATION_CREDENTIALS"),
            pubsub_publish_timeout=parsed("PUBSUB_PUBLISH_TIMEOUT", _number(float, 0.1), 10.0),
            product_name=get("PRODUCT_NAME") or "CLINQ",
            max_body_size=parsed("MAX_BODY_SIZE", _number(int, 1), 1024 * 1024),
            cors_origins=parsed("CORS_ORIGINS", _origins, None),
            shutdown_timeout=parsed("SHUTDOWN_TIMEOUT", seconds, 30.0),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            log_plain=parsed("LOG_PLAIN", _bool, (get("NODE_ENV") or "") == "development"),
        )
        if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError("LOG_LEVEL", f"unknown level {settings.log_level!r}")
        return settings
