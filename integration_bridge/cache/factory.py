"""Which storage a bridge uses, and the start-up checks that go with it."""

from __future__ import annotations

from integration_bridge.cache.storage import MemoryStorage, Storage
from integration_bridge.settings import Settings, SettingsError

__all__ = ["check_redis_settings", "create_storage"]


def check_redis_settings(settings: Settings) -> None:
    """Redis with the token cache needs ``INTEGRATION_NAME`` for its key prefix.

    Raises:
        SettingsError: ``REDIS_URL`` and ``OAUTH2_REDIRECT_URL`` are set without
            ``INTEGRATION_NAME``.
    """
    if settings.redis_url and settings.oauth2_redirect_url and not settings.integration_name:
        raise SettingsError(
            "INTEGRATION_NAME",
            "required with REDIS_URL for the OAuth token cache (keys AUTH:<INTEGRATION_NAME>:...)",
        )


def create_storage(settings: Settings) -> Storage:
    """Redis when ``REDIS_URL`` is set, else the in-process memory store."""
    if settings.redis_url:
        from integration_bridge.cache.redis import RedisStorage

        return RedisStorage(
            settings.redis_url,
            default_ttl=settings.redis_cache_ttl_seconds,
            timeout=settings.redis_timeout,
        )
    return MemoryStorage(
        settings.memory_cache_max_bytes,
        settings.memory_cache_ttl_seconds,
        hot_bytes=settings.memory_cache_hot_bytes,
    )
