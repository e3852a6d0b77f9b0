"""Choosing the storage, and the Redis start-up check that spans variables."""

from __future__ import annotations

import pytest

from integration_bridge.cache.factory import check_redis_settings, create_storage
from integration_bridge.cache.redis import RedisStorage
from integration_bridge.cache.storage import MemoryStorage
from integration_bridge.settings import Settings, SettingsError

OAUTH = "https://bridge.example/oauth2/callback"


async def test_memory_without_redis_url() -> None:
    settings = Settings(memory_cache_max_bytes=1234, memory_cache_ttl_seconds=60)
    storage = create_storage(settings)
    assert isinstance(storage, MemoryStorage)
    assert (storage.max_bytes, storage.default_ttl) == (1234, 60)


async def test_redis_with_redis_url(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, redis_timeout=0.4, redis_cache_ttl_seconds=99)
    storage = create_storage(settings)
    try:
        assert isinstance(storage, RedisStorage)
        assert (storage.timeout, storage.default_ttl) == (0.4, 99)
    finally:
        await storage.close()


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(oauth2_redirect_url=OAUTH),  # memory: prefix AUTH
        Settings(redis_url="redis://127.0.0.1:6379/0"),  # no token cache
        Settings(
            redis_url="redis://127.0.0.1:6379/0",
            oauth2_redirect_url=OAUTH,
            integration_name="bridge",
        ),
        Settings(redis_url="rediss://:secret@redis.internal:6380/2"),
        Settings(redis_url="unix:///run/redis.sock"),
    ],
)
def test_accepted(settings: Settings) -> None:
    check_redis_settings(settings)


def test_redis_and_oauth2_need_integration_name() -> None:
    with pytest.raises(SettingsError) as info:
        check_redis_settings(
            Settings(redis_url="redis://127.0.0.1:6379/0", oauth2_redirect_url=OAUTH)
        )
    assert info.value.variable == "INTEGRATION_NAME"
    assert "OAUTH2_REDIRECT_URL" in str(info.value)
