"""Which storage a bridge uses, and the start-up checks that go with it."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from integration_bridge.cache.storage import MemoryStorage, Storage
from integration_bridge.settings import Settings, SettingsError

__all__ = ["check_redis_settings", "create_storage"]

_EXAMPLE = "expected a URL like redis://host:6379/0"


def check_redis_settings(settings: Settings) -> None:
    """Start-up checks of the Redis settings (also for settings made in code).

    The token cache (active with ``OAUTH2_REDIRECT_URL``) keys its Redis entries
    ``AUTH:<INTEGRATION_NAME>:<api key>``, so on Redis it needs the name; the
    contact cache alone does not.

    Raises:
        SettingsError: ``REDIS_URL`` does not parse, or ``REDIS_URL`` and
            ``OAUTH2_REDIRECT_URL`` are set without ``INTEGRATION_NAME``.
    """
    if not settings.redis_url:
        return
    _check_redis_url(settings.redis_url)
    if settings.oauth2_redirect_url and not settings.integration_name:
        raise SettingsError(
            "INTEGRATION_NAME",
            "required with REDIS_URL when OAUTH2_REDIRECT_URL is set"
            " (token cache keys AUTH:<INTEGRATION_NAME>:...)",
        )


def _check_redis_url(url: str) -> None:
    # Messages never repeat the URL: it may hold a password.
    from redis.asyncio.connection import parse_url

    try:
        parse_url(url)
        parsed = urlparse(url)
        port = parsed.port
    except ValueError as error:
        raise SettingsError("REDIS_URL", f"{_EXAMPLE} ({error})") from None
    if parsed.scheme == "unix":
        if not parsed.path:
            raise SettingsError("REDIS_URL", "expected unix:///path/to/redis.sock")
        return
    if not parsed.hostname:
        raise SettingsError("REDIS_URL", f"{_EXAMPLE} (no host)")
    if port == 0:
        raise SettingsError("REDIS_URL", f"{_EXAMPLE} (port 0)")
    database = unquote(parsed.path).strip("/")
    if database and not database.isdigit():
        raise SettingsError("REDIS_URL", f"{_EXAMPLE} (the database is not a number)")


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
