"""The OAuth access token cache (SPEC 6).

Entries (compatible with the original): ``<prefix>:<api key>`` =
``{"accessToken": str | null, "isPending": bool}``, prefix ``AUTH`` or, on
Redis, ``AUTH:<INTEGRATION_NAME>``. A refresh first takes a short-lived
pending marker atomically, so other processes wait for its result instead of
refreshing again; within a process, concurrent callers share one refresh.

A refresh function may say how long its token lives: it returns the token, a
token object (``access_token`` and ``expires_in``, e.g. `TokenSet`) or
``(token, expires_in)``. Such a token is kept no longer than its lifetime
minus a margin (``expiry_margin``, at most half the lifetime), and never longer
than ``TOKEN_CACHE_TTL``: a HubSpot token living 1,800 s is not served after
it expired.

`TokenCache` knows only its `Storage`; the app builds it
(`integration_bridge.cache.factory.create_token_cache`) and the functions
adapters call (`integration_bridge.tokens`) find it through the running app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from integration_bridge.cache.guards import BestEffort, WarningThrottle
from integration_bridge.cache.single_flight import SingleFlight
from integration_bridge.cache.storage import Blob, Storage
from integration_bridge.models import Config

__all__ = ["RefreshFn", "RefreshResult", "TokenCache", "TokenWithLifetime"]

_log = logging.getLogger("integration_bridge.token")


@runtime_checkable
class TokenWithLifetime(Protocol):
    """A token object a refresh function may return (`TokenSet` is one)."""

    @property
    def access_token(self) -> str:
        """The access token."""

    @property
    def expires_in(self) -> int | float | None:
        """Seconds the token lives, if the provider said."""


RefreshResult = str | tuple[str, int | float | None] | TokenWithLifetime
"""The token alone, ``(token, expires_in)`` or a token object."""

RefreshFn = Callable[[Config], Awaitable[RefreshResult]]
"""``async (config) -> token``, optionally with the token's lifetime (`RefreshResult`)."""


def token_and_lifetime(result: RefreshResult) -> tuple[str, float | None]:
    """The access token and its lifetime in seconds (None: unknown) of a refresh result.

    Raises:
        TypeError: the result is none of the `RefreshResult` forms.
    """
    if isinstance(result, str):
        return result, None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str):
        token, lifetime = result
    elif isinstance(result, TokenWithLifetime) and isinstance(result.access_token, str):
        token, lifetime = result.access_token, result.expires_in
    else:
        raise TypeError(
            "refresh_fn must return the access token, (token, expires_in) or an object"
            f" with access_token and expires_in, not {type(result).__name__}"
        )
    if lifetime is None or isinstance(lifetime, bool):
        return token, None
    return token, float(lifetime)


class TokenCache:
    """Access tokens per provider key, refreshed once however many callers ask.

    Args:
        storage: where entries live; None turns caching off (every call refreshes).
        prefix: key prefix, ``AUTH`` or ``AUTH:<INTEGRATION_NAME>``.
        ttl: seconds a token is kept.
        pending_ttl: seconds the pending marker of a running refresh lives.
        poll_interval: seconds between two looks while another process refreshes.
        expiry_margin: seconds before its announced expiry a token is dropped
            (at most half its lifetime).
    """

    def __init__(
        self,
        storage: Storage | None,
        *,
        prefix: str = "AUTH",
        ttl: float = 3540.0,
        pending_ttl: float = 5.0,
        poll_interval: float = 0.05,
        expiry_margin: float = 60.0,
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self.ttl = ttl
        self.pending_ttl = pending_ttl
        self.poll_interval = poll_interval
        self.expiry_margin = expiry_margin
        self._refreshes: SingleFlight[tuple[str, bool], str] = SingleFlight()
        self._safe = BestEffort(WarningThrottle(_log, 10.0), "TokenCache")
        self._warned_inactive = False
        self.refreshes = 0
        """Calls of a refresh function so far (for metrics)."""

    def key(self, api_key: str) -> str:
        """The storage key of a provider key's entry."""
        return f"{self.prefix}:{api_key}"

    async def _read(self, key: str) -> tuple[Blob | None, dict[str, Any] | None]:
        """The stored blob and its entry (None where absent, unreadable or unreachable)."""
        assert self.storage is not None
        blob = await self._safe.read(self.storage.get(key), None)
        if blob is None:
            return None, None
        try:
            value = blob.value()
        except ValueError:
            return blob, None
        return blob, value if isinstance(value, dict) else None

    async def _write(self, operation: Awaitable[Any]) -> Any:
        return await self._safe.write(operation, "token entry write (token not shared)")

    async def get(self, config: Config, refresh_fn: RefreshFn, force: bool = False) -> str:
        """A fresh access token for ``config.api_key`` (see `get_fresh_access_token`).

        Concurrent callers for one key share one task: a forced call joins only
        a forced refresh (a plain lookup might hand back the token it rejects),
        a plain call joins either.
        """
        key = self.key(config.api_key)
        task = self._refreshes.running((key, True))
        if task is None and not force:
            task = self._refreshes.running((key, False))
        if task is None:
            if self.storage is None and not self._warned_inactive:
                self._warned_inactive = True
                _log.warning(
                    "[TokenCache] OAUTH2_REDIRECT_URL is not set: access tokens are not"
                    " cached, every call refreshes"
                )
            task = self._refreshes.start(
                (key, force), lambda: self._get(key, config, refresh_fn, force)
            )
        return await asyncio.shield(task)

    async def _get(self, key: str, config: Config, refresh_fn: RefreshFn, force: bool) -> str:
        if self.storage is None:
            self.refreshes += 1
            return token_and_lifetime(await refresh_fn(config))[0]
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
            token, lifetime = token_and_lifetime(await refresh_fn(config))
        except BaseException:
            await self._write(self.storage.delete(key))
            raise
        await self.store(config.api_key, token, lifetime)
        return token

    def ttl_for(self, lifetime: float | None) -> float:
        """Seconds to keep a token living ``lifetime`` seconds (None: unknown)."""
        if lifetime is None:
            return self.ttl
        return min(self.ttl, lifetime - min(self.expiry_margin, lifetime / 2))

    async def store(self, api_key: str, access_token: str, expires_in: float | None = None) -> None:
        """Cache ``access_token`` for ``api_key`` (nothing when caching is off).

        Args:
            api_key: the provider key the token belongs to.
            access_token: the token.
            expires_in: seconds the token lives, when known: it is kept no longer
                than that minus the margin (a token about to expire is not kept).
        """
        if self.storage is None:
            return
        key = self.key(api_key)
        ttl = self.ttl_for(expires_in)
        if ttl <= 0:
            await self._write(self.storage.delete(key))
            return
        entry = Blob.of({"accessToken": access_token, "isPending": False})
        await self._write(self.storage.set(key, entry, ttl))
