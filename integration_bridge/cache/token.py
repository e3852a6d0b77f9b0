"""The OAuth access token cache (SPEC 6) and the functions adapters call.

Entries (compatible with the original): ``<prefix>:<api key>`` =
``{"accessToken": str | null, "isPending": bool}``, prefix ``AUTH`` or, on
Redis, ``AUTH:<INTEGRATION_NAME>``. A refresh first takes a short-lived
pending marker atomically, so other processes wait for its result instead of
refreshing again; within a process, concurrent callers share one refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from integration_bridge import runtime
from integration_bridge.appkeys import PUBLISHER, SETTINGS, STORAGE, TOKEN_CACHE
from integration_bridge.cache.storage import Blob, MemoryStorage, Storage, StorageUnavailable
from integration_bridge.models import Config
from integration_bridge.settings import Settings

__all__ = [
    "TokenCache",
    "get_fresh_access_token",
    "token_cache_context",
    "update_provider_key",
]

_log = logging.getLogger("integration_bridge.token")

RefreshFn = Callable[[Config], Awaitable[str]]


class TokenCache:
    """Access tokens per provider key, refreshed once however many callers ask.

    Args:
        storage: where entries live; None turns caching off (every call refreshes).
        prefix: key prefix, ``AUTH`` or ``AUTH:<INTEGRATION_NAME>``.
        ttl: seconds a token is kept.
        pending_ttl: seconds the pending marker of a running refresh lives.
        poll_interval: seconds between two looks while another process refreshes.
    """

    def __init__(
        self,
        storage: Storage | None,
        *,
        prefix: str = "AUTH",
        ttl: float = 3540.0,
        pending_ttl: float = 5.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self.ttl = ttl
        self.pending_ttl = pending_ttl
        self.poll_interval = poll_interval
        self._inflight: dict[tuple[str, bool], asyncio.Task[str]] = {}
        self._warned_inactive = False
        self.refreshes = 0
        """Calls of a refresh function so far (for metrics)."""

    def key(self, api_key: str) -> str:
        """The storage key of a provider key's entry."""
        return f"{self.prefix}:{api_key}"

    async def _read(self, key: str) -> tuple[Blob | None, dict[str, Any] | None]:
        """The stored blob and its entry (None where absent, unreadable or unreachable)."""
        assert self.storage is not None
        try:
            blob = await self.storage.get(key)
        except StorageUnavailable:
            return None, None
        if blob is None:
            return None, None
        try:
            value = blob.value()
        except ValueError:
            return blob, None
        return blob, value if isinstance(value, dict) else None

    async def _write(self, operation: Awaitable[Any]) -> Any:
        try:
            return await operation
        except StorageUnavailable:
            _log.warning("[TokenCache] Storage unavailable; token not shared")
            return None

    async def get(self, config: Config, refresh_fn: RefreshFn, force: bool = False) -> str:
        """A fresh access token for ``config.api_key`` (see `get_fresh_access_token`).

        Concurrent callers for one key share one task: a forced call joins only
        a forced refresh (a plain lookup might hand back the token it rejects),
        a plain call joins either.
        """
        key = self.key(config.api_key)
        task = self._inflight.get((key, True))
        if task is None and not force:
            task = self._inflight.get((key, False))
        if task is None:
            if self.storage is None and not self._warned_inactive:
                self._warned_inactive = True
                _log.warning(
                    "[TokenCache] OAUTH2_REDIRECT_URL is not set: access tokens are not"
                    " cached, every call refreshes"
                )
            task = asyncio.create_task(self._get(key, config, refresh_fn, force))
            self._inflight[key, force] = task
            task.add_done_callback(lambda done: self._forget((key, force), done))
        return await asyncio.shield(task)

    def _forget(self, slot: tuple[str, bool], task: asyncio.Task[str]) -> None:
        if self._inflight.get(slot) is task:
            del self._inflight[slot]
        if not task.cancelled():
            task.exception()

    async def _get(self, key: str, config: Config, refresh_fn: RefreshFn, force: bool) -> str:
        if self.storage is None:
            self.refreshes += 1
            return await refresh_fn(config)
        pending = Blob.of({"accessToken": None, "isPending": True})
        deadline = time.monotonic() + self.pending_ttl + 1
        blocked = 0  # times the marker could not be added although nothing readable was there
        while True:
            if force or time.monotonic() >= deadline:
                # Forced, or waited a whole marker lifetime: refresh regardless.
                await self._write(self.storage.set(key, pending, self.pending_ttl))
                return await self._refresh(key, config, refresh_fn)
            blob, entry = await self._read(key)
            token = entry.get("accessToken") if entry else None
            if isinstance(token, str) and token:
                return token
            if entry and entry.get("isPending"):
                await asyncio.sleep(self.poll_interval)  # another process is refreshing
                continue
            if blob is not None:
                # An entry without a token nor a marker: replace exactly that one.
                swap = self.storage.swap(key, blob, pending, self.pending_ttl)
                taken = await self._write(swap)
            else:
                taken = await self._write(self.storage.add(key, pending, self.pending_ttl))
                if taken is False:
                    blocked += 1
                    if blocked >= 3:  # something unreadable sits there: overwrite it
                        await self._write(self.storage.set(key, pending, self.pending_ttl))
                        taken = True
            if taken is False:
                await asyncio.sleep(self.poll_interval)  # someone else started a refresh
                continue
            return await self._refresh(key, config, refresh_fn)

    async def _refresh(self, key: str, config: Config, refresh_fn: RefreshFn) -> str:
        assert self.storage is not None
        self.refreshes += 1
        try:
            token = await refresh_fn(config)
        except BaseException:
            await self._write(self.storage.delete(key))
            raise
        await self.store(config.api_key, token)
        return token

    async def store(self, api_key: str, access_token: str) -> None:
        """Cache ``access_token`` for ``api_key`` (nothing when caching is off)."""
        if self.storage is None:
            return
        entry = Blob.of({"accessToken": access_token, "isPending": False})
        await self._write(self.storage.set(self.key(api_key), entry, self.ttl))


def _create(settings: Settings, storage: Storage | None) -> TokenCache:
    if not settings.oauth2_redirect_url:
        return TokenCache(None)
    prefix = "AUTH"
    if settings.redis_url and settings.integration_name:
        prefix = f"AUTH:{settings.integration_name}"
    return TokenCache(storage, prefix=prefix, ttl=settings.token_cache_ttl)


async def token_cache_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the app's token cache, on the app's storage."""
    app[TOKEN_CACHE] = _create(app[SETTINGS], app[STORAGE])
    yield


_fallback: TokenCache | None = None


def _current() -> tuple[TokenCache, web.Application | None]:
    global _fallback
    try:
        app = runtime.current_app()
    except RuntimeError:
        if _fallback is None:
            settings = Settings.from_env()
            _fallback = _create(settings, MemoryStorage())
        return _fallback, None
    return app[TOKEN_CACHE], app


async def get_fresh_access_token(config: Config, refresh_fn: RefreshFn, force: bool = False) -> str:
    """The cached access token for ``config.api_key``, refreshed when needed.

    Args:
        config: the caller's configuration; ``api_key`` keys the cache.
        refresh_fn: ``async (config) -> str`` making a new access token.
        force: refresh now even when a token is cached.

    Returns:
        The access token. Concurrent callers share one refresh; across
        processes a pending marker makes the others wait for its result.
        Without ``OAUTH2_REDIRECT_URL`` nothing is cached and ``refresh_fn`` is
        called (still once for concurrent callers; one warning is logged). The
        original framework answers 500 in that case instead.
    """
    cache, _ = _current()
    return await cache.get(config, refresh_fn, force)


async def update_provider_key(config: Config, access_token: str, provider_key: str) -> None:
    """Cache ``access_token`` under the new ``provider_key`` and announce the new key.

    Publishes ``{"userId", "integrationName", "providerKey"}`` to
    ``PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY``.
    """
    cache, app = _current()
    await cache.store(provider_key, access_token)
    if app is None:
        _log.warning("[updateProviderKey] No running bridge: provider key update not published")
        return
    from integration_bridge.pubsub.events import publish_provider_key_update

    await publish_provider_key_update(app[PUBLISHER], app[SETTINGS], config, provider_key)
