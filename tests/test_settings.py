"""Settings from the environment."""

from __future__ import annotations

import pytest

from integration_bridge import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8080
    assert settings.cache_refresh_interval == 1800
    assert settings.contact_fetch_timeout == 5
    assert settings.token_cache_ttl == 3540
    assert settings.max_body_size == 1024 * 1024
    assert settings.product_name == "CLINQ"
    assert settings.cors_origins is None
    assert settings.cache_disabled is False


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "CACHE_DISABLED": "true",
            "CACHE_REFRESH_INTERVAL": "0",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "PUBSUB_TOPIC_NAME": "legacy-topic",
            "REDIS_URL": "redis://127.0.0.1:6380/1",
        }
    )
    assert settings.port == 9000
    assert settings.cache_disabled is True
    assert settings.cache_refresh_interval == 1  # minimum
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.pubsub_topic_name_contact_streaming == "legacy-topic"
    assert settings.redis_url == "redis://127.0.0.1:6380/1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("CACHE_REFRESH_INTERVAL", "1h"),
        ("CONTACT_FETCH_TIMEOUT", "-1"),
        ("MAX_BODY_SIZE", "1MB"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_URL", "redis://host:port"),
        ("CACHE_DISABLED", "maybe"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_wrong_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert info.value.variable == name
    assert str(info.value).startswith(f"{name}: ")
