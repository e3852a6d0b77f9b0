"""Settings from the environment and made in code: one set of defaults and checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from integration_bridge import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.port == 8080
    assert settings.cache_refresh_interval == 1800
    assert settings.contact_fetch_timeout == 5
    assert settings.token_cache_ttl == 3540
    assert settings.max_body_size == 1024 * 1024
    assert settings.product_name == "CLINQ"
    assert settings.cors_origins is None
    assert settings.cache_disabled is False
    assert settings.body_read_timeout == 30
    assert settings.stream_max_concurrent == 32
    assert settings.webhook_publish_timeout == 10
    assert settings.pubsub_backend is None
    assert settings.pubsub_api_endpoint == "https://europe-west3-pubsub.googleapis.com"
    assert settings.metrics_enabled is False
    assert settings.server_timing is False
    assert settings.backend_tracing_enabled is False
    assert settings.backend_tracing_api_key is None


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "CACHE_DISABLED": "true",
            "CACHE_REFRESH_INTERVAL": "0",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "PUBSUB_TOPIC_NAME": "legacy-topic",
            "REDIS_URL": "redis://127.0.0.1:6380/1",
            "PUBSUB_BACKEND": "Emulator",
            "STREAM_MAX_CONCURRENT": "4",
            "BODY_READ_TIMEOUT": "2.5",
            "METRICS_ENABLED": "1",
            "SERVER_TIMING": "true",
            "LOG_LEVEL": "debug",
            "MAX_BODY_SIZE": "",  # empty counts as unset
        }
    )
    assert settings.port == 9000
    assert settings.cache_disabled is True
    assert settings.cache_refresh_interval == 1  # minimum
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.pubsub_topic_name_contact_streaming == "legacy-topic"
    assert settings.redis_url == "redis://127.0.0.1:6380/1"
    assert settings.pubsub_backend == "emulator"
    assert settings.stream_max_concurrent == 4
    assert settings.body_read_timeout == 2.5
    assert settings.metrics_enabled is True
    assert settings.server_timing is True
    assert settings.log_level == "DEBUG"
    assert settings.max_body_size == 1024 * 1024


def test_new_name_wins_over_legacy_topic_name() -> None:
    settings = Settings.from_env(
        {"PUBSUB_TOPIC_NAME": "legacy", "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": "current"}
    )
    assert settings.pubsub_topic_name_contact_streaming == "current"


def test_wildcard_origins_mean_any() -> None:
    assert Settings.from_env({"CORS_ORIGINS": "*"}).cors_origins is None
    assert Settings(cors_origins=["https://a.example"]).cors_origins == ("https://a.example",)


def test_node_env_development_means_plain_logs_unless_log_plain_says_otherwise() -> None:
    assert Settings.from_env({"NODE_ENV": "development"}).log_plain is True
    assert Settings.from_env({"NODE_ENV": "production"}).log_plain is False
    assert Settings.from_env({"NODE_ENV": "development", "LOG_PLAIN": "false"}).log_plain is False


def test_tracing_api_key_is_never_shown() -> None:
    settings = Settings.from_env({"BACKEND_TRACING_API_KEY": "sk-tracing-1234"})
    assert settings.backend_tracing_api_key is not None
    assert settings.backend_tracing_api_key.get_secret_value() == "sk-tracing-1234"
    assert "sk-tracing-1234" not in repr(settings)
    assert "sk-tracing-1234" not in str(settings)


def test_redis_password_is_not_in_repr() -> None:
    settings = Settings(redis_url="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)


BAD_VALUES = [
    ("PORT", "eighty"),
    ("PORT", "70000"),
    ("CACHE_REFRESH_INTERVAL", "1h"),
    ("CONTACT_FETCH_TIMEOUT", "-1"),
    ("MAX_BODY_SIZE", "1MB"),
    ("REDIS_URL", "localhost:6379"),
    ("REDIS_URL", "redis://host:port"),
    ("CACHE_DISABLED", "maybe"),
    ("LOG_LEVEL", "LOUD"),
    ("PUBSUB_BACKEND", "kafka"),
    ("STREAM_MAX_CONCURRENT", "0"),
    ("BODY_READ_TIMEOUT", "0"),
    ("WEBHOOK_PUBLISH_TIMEOUT", "soon"),
    ("METRICS_ENABLED", "sure"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_wrong_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert info.value.variable == name
    assert str(info.value).startswith(f"{name}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_settings_made_in_code_get_the_same_checks(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(**{name.lower(): value})
    assert info.value.variable == name
    with pytest.raises(SettingsError) as info:
        Settings().with_(**{name.lower(): value})
    assert info.value.variable == name


def test_with_keeps_other_values_and_checks_again() -> None:
    settings = Settings(port=9000).with_(integration_name="bridge", cache_refresh_interval=0)
    assert (settings.port, settings.integration_name) == (9000, "bridge")
    assert settings.cache_refresh_interval == 1


def test_unknown_setting_in_code_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        Settings(prot=9000)
    assert info.value.variable == "PROT"


def test_code_settings_ignore_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    assert Settings().port == 8080
    assert Settings.from_env().port == 9999


@pytest.mark.parametrize(
    "url",
    [
        "localhost:6379",
        "http://:hunter2@127.0.0.1:6379",
        "redis://:hunter2@127.0.0.1:notaport/0",
        "redis://:hunter2@127.0.0.1:6379/zero",
        "redis://",
        "unix://",
    ],
)
def test_malformed_redis_url_names_the_variable_not_the_password(url: str) -> None:
    makers: list[Callable[[], Settings]] = [
        lambda: Settings(redis_url=url),
        lambda: Settings.from_env({"REDIS_URL": url}),
    ]
    for make in makers:
        with pytest.raises(SettingsError) as info:
            make()
        assert info.value.variable == "REDIS_URL"
        assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:secret@redis.internal:6380/2",
        "unix:///run/redis.sock",
    ],
)
def test_redis_urls_accepted(url: str) -> None:
    assert Settings(redis_url=url).redis_url == url
