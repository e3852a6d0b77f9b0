"""One typed settings object, read from the environment once at start-up.

Built on pydantic-settings: every variable is a field with its default stated
once, and the same validators run whether the settings come from the
environment (`Settings.from_env`) or are made in code (`Settings(...)`,
`settings.with_(...)`). A wrong value raises `SettingsError`, whose one-line
message names the environment variable.

`Settings(...)` never reads the process environment (tests and embedding code
get exactly what they pass); `Settings.from_env()` does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["DEFAULT_PUBSUB_API_ENDPOINT", "Settings", "SettingsError"]

DEFAULT_PUBSUB_API_ENDPOINT = "https://europe-west3-pubsub.googleapis.com"
"""The original's regional endpoint: ordered messages stay in one region."""

_DAY = 24 * 3600.0
_MIB = 1024 * 1024
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_REDIS_EXAMPLE = "expected a URL like redis://host:6379/0"
# Fields whose value never appears in an error message (a Redis URL may hold a password).
_UNECHOED = frozenset({"redis_url", "backend_tracing_api_key"})


class SettingsError(ValueError):
    """A wrong environment value; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def _env_name(field: str) -> str:
    return field.upper()


class _MappingEnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Case-insensitive like the default source; an empty value counts as unset.
        return {name.lower(): value for name, value in self._environ.items() if value != ""}


class Settings(BaseSettings):
    """Everything an operator configures (SPEC section 10), with defaults."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=False,
        env_ignore_empty=True,
        populate_by_name=True,
        extra="forbid",
        validate_default=False,
    )

    port: int = Field(8080, ge=0, le=65535)
    integration_name: str | None = None
    redis_url: str | None = Field(None, repr=False)
    cache_disabled: bool = False
    cache_refresh_interval: float = Field(1800.0, ge=0)
    memory_cache_ttl_seconds: float = Field(30 * _DAY, ge=1)
    memory_cache_max_bytes: int = Field(400 * _MIB, ge=1)
    memory_cache_hot_bytes: int = Field(8 * _MIB, ge=0)
    redis_cache_ttl_seconds: float = Field(30 * _DAY, ge=1)
    redis_timeout: float = Field(1.0, ge=0.01)
    redis_tls_ca_file: str | None = None
    redis_tls_check_hostname: bool = True
    contact_fetch_timeout: float = Field(5.0, ge=0)
    oauth2_redirect_url: str | None = None
    oauth2_identifier: str | None = None
    token_cache_ttl: float = Field(3540.0, ge=1)
    pubsub_topic_name_contact_streaming: str | None = Field(
        None,
        validation_alias=AliasChoices("pubsub_topic_name_contact_streaming", "PUBSUB_TOPIC_NAME"),
    )
    pubsub_additional_topic_name: str | None = None
    pubsub_topic_name_integration_events: str | None = None
    pubsub_topic_name_update_provider_key: str | None = None
    google_cloud_project: str | None = None
    pubsub_emulator_host: str | None = None
    google_application_credentials: str | None = None
    pubsub_publish_timeout: float = Field(10.0, ge=0.1)
    pubsub_backend: Literal["google", "emulator", "local"] | None = None
    pubsub_api_endpoint: str = DEFAULT_PUBSUB_API_ENDPOINT
    pubsub_credentials_timeout: float = Field(20.0, ge=0.1)
    webhook_publish_timeout: float = Field(10.0, gt=0)
    product_name: str = "CLINQ"
    max_body_size: int = Field(_MIB, ge=1)
    body_read_timeout: float = Field(30.0, gt=0)
    cors_origins: Annotated[tuple[str, ...] | None, NoDecode] = None
    stream_max_concurrent: int = Field(32, ge=1)
    phone_parse_workers: int = Field(1, ge=0, le=64)
    shutdown_timeout: float = Field(30.0, ge=0)
    log_level: str = "INFO"
    log_plain: bool = False
    metrics_enabled: bool = False
    server_timing: bool = False
    backend_tracing_enabled: bool = False
    backend_tracing_api_key: SecretStr | None = None
    otel_traces_exporter: Literal["otlp", "console", "none"] | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_sdk_disabled: bool = False
    node_env: str | None = None

    def __init__(self, **values: Any) -> None:
        """Validate ``values`` (field names); never reads the environment.

        Raises:
            SettingsError: a value is wrong; the message names the variable.
        """
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise _settings_error(error) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in: `from_env` reads the environment explicitly."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment (``os.environ`` unless given).

        Raises:
            SettingsError: a value is malformed; the message names the variable.
        """
        env = os.environ if environ is None else environ
        values = _MappingEnvSource(cls, env)()
        if "log_plain" not in values and env.get("NODE_ENV") == "development":
            values["log_plain"] = True
        return cls(**values)

    @property
    def tracing_enabled(self) -> bool:
        """Tracing is on: the original's switches, or an OTLP exporter or endpoint configured.

        ``OTEL_SDK_DISABLED=true``, OpenTelemetry's own off switch, wins over all of them.
        """
        if self.otel_sdk_disabled:
            return False
        if self.backend_tracing_enabled or self.backend_tracing_api_key:
            return True
        if self.otel_traces_exporter is not None:
            return self.otel_traces_exporter != "none"
        return self.traces_endpoint is not None

    @property
    def traces_endpoint(self) -> str | None:
        """The OTLP/HTTP traces URL from the standard variables (the signal's own wins)."""
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint.strip()
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.strip().rstrip("/") + "/v1/traces"
        return None

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed, checked like the original."""
        return type(self)(**{**self.__dict__, **changes})

    @field_validator("cache_refresh_interval")
    @classmethod
    def _at_least_one_second(cls, value: float) -> float:
        return max(1.0, value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in _LOG_LEVELS:
                raise ValueError(
                    f"unknown level {value!r}, expected one of {', '.join(_LOG_LEVELS)}"
                )
        return value

    @field_validator("pubsub_backend", "otel_traces_exporter", mode="before")
    @classmethod
    def _lower_backend(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("pubsub_api_endpoint")
    @classmethod
    def _api_endpoint(cls, value: str) -> str:
        """A base URL; a bare ``host:port`` (the original's form) means https."""
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = f"https://{value}"
        parsed = urlparse(value)
        try:
            parsed.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("the port is not a number") from None
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError("expected https://host[:port] or host:port")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        if items is None:
            return None
        origins = tuple(item.strip() for item in items if item.strip())
        return None if not origins or origins == ("*",) else origins

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        _check_redis_url(value)
        return value


def _check_redis_url(url: str) -> None:
    # Messages never repeat the URL: it may hold a password.
    from redis.asyncio.connection import parse_url

    try:
        parse_url(url)
        parsed = urlparse(url)
        port = parsed.port
    except ValueError as error:
        raise ValueError(f"{_REDIS_EXAMPLE} ({error})") from None
    if parsed.scheme == "unix":
        if not parsed.path:
            raise ValueError("expected unix:///path/to/redis.sock")
        return
    if not parsed.hostname:
        raise ValueError(f"{_REDIS_EXAMPLE} (no host)")
    if port == 0:
        raise ValueError(f"{_REDIS_EXAMPLE} (port 0)")
    database = unquote(parsed.path).strip("/")
    if database and not database.isdigit():
        raise ValueError(f"{_REDIS_EXAMPLE} (the database is not a number)")


# pydantic's wording for the common problems, said the way an operator reads it.
_PROBLEMS = {
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "bool_parsing": "expected true or false",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "extra_forbidden": "not a setting",
}


def _settings_error(error: ValidationError) -> SettingsError:
    """The first problem of ``error`` as one line naming the variable."""
    problem = error.errors(include_url=False)[0]
    field = str(problem["loc"][0]) if problem["loc"] else "settings"
    if field == "PUBSUB_TOPIC_NAME":
        field = "pubsub_topic_name_contact_streaming"
    template = _PROBLEMS.get(problem["type"])
    if template is not None:
        context = problem.get("ctx", {})
        message = template.format(
            **{k: f"{v:g}" if isinstance(v, int | float) else v for k, v in context.items()}
        )
    else:
        message = problem["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
    if field not in _UNECHOED and problem["type"] not in {"extra_forbidden", "value_error"}:
        message = f"{message}, got {problem['input']!r}"
    return SettingsError(_env_name(field), message)
