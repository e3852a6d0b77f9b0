"""Which storage a bridge uses, and the start-up checks that go with it."""

from __future__ import annotations

import os

from integration_bridge.cache.storage import MemoryStorage, Storage
from integration_bridge.cache.token import TokenCache
from integration_bridge.settings import Settings, SettingsError

__all__ = ["TOKEN_MEMORY_MAX_BYTES", "check_redis_settings", "create_storage", "create_token_cache"]

TOKEN_MEMORY_MAX_BYTES = 8 * 1024 * 1024
"""Memory for tokens kept in-process without ``OAUTH2_REDIRECT_URL`` (tens of thousands)."""


def check_redis_settings(settings: Settings) -> None:
    """Start-up check of the Redis settings that needs more than one variable.

    ``REDIS_URL`` itself is validated by `Settings`. The token cache (active
    with ``OAUTH2_REDIRECT_URL``) keys its Redis entries
    ``AUTH:<INTEGRATION_NAME>:<api key>``, so on Redis it needs the name; the
    contact cache alone does not.

    Raises:
        SettingsError: ``REDIS_URL`` and ``OAUTH2_REDIRECT_URL`` are set
            without ``INTEGRATION_NAME``, or ``REDIS_TLS_CA_FILE`` is not a file.
    """
    if not settings.redis_url:
        return
    ca_file = settings.redis_tls_ca_file
    if ca_file and not os.path.isfile(ca_file):
        raise SettingsError("REDIS_TLS_CA_FILE", f"no such file: {ca_file!r}")
    if settings.oauth2_redirect_url and not settings.integration_name:
        raise SettingsError(
            "INTEGRATION_NAME",
            "required with REDIS_URL when OAUTH2_REDIRECT_URL is set"
            " (token cache keys AUTH:<INTEGRATION_NAME>:...)",
        )


def create_storage(settings: Settings) -> Storage:
    """Redis when ``REDIS_URL`` is set, else the in-process memory store."""
    if settings.redis_url:
        from integration_bridge.cache.redis import RedisStorage

        return RedisStorage(
            settings.redis_url,
            default_ttl=settings.redis_cache_ttl_seconds,
            timeout=settings.redis_timeout,
            tls_ca_file=settings.redis_tls_ca_file,
            tls_check_hostname=settings.redis_tls_check_hostname,
        )
    return MemoryStorage(
        settings.memory_cache_max_bytes,
        settings.memory_cache_ttl_seconds,
        hot_bytes=settings.memory_cache_hot_bytes,
    )


def create_token_cache(settings: Settings, storage: Storage) -> TokenCache:
    """The token cache on ``storage``; in this process only without ``OAUTH2_REDIRECT_URL``.

    SPEC 6 shares tokens (Redis or the app's memory store, the original's
    entries) only when ``OAUTH2_REDIRECT_URL`` is set. Without it the original
    refreshes on every call; here tokens are still kept, in a small memory
    store of this process (``AUTH`` prefix, never in Redis), so three calls are
    one refresh, not twelve.
    """
    if not settings.oauth2_redirect_url:
        return TokenCache(
            MemoryStorage(TOKEN_MEMORY_MAX_BYTES, settings.token_cache_ttl),
            ttl=settings.token_cache_ttl,
        )
    prefix = "AUTH"
    if settings.redis_url and settings.integration_name:
        prefix = f"AUTH:{settings.integration_name}"
    return TokenCache(storage, prefix=prefix, ttl=settings.token_cache_ttl)
