"""The OAuth token functions adapters call: `get_fresh_access_token`, `update_provider_key`.

They are plain functions (the original's API), so they find the token cache,
the publisher and the settings through the app that runs the adapter:
`runtime.current_app()` is the app of the request being handled (and of tasks
started from it), else the most recently started app.

Without a running app they raise `RuntimeError`, on purpose: the token cache
belongs to an app (its storage, its ``OAUTH2_REDIRECT_URL``, its Redis), and a
second cache built from the environment on the side would neither share
tokens with the app nor publish provider key updates. Code that calls an
adapter outside a server (a script, a unit test) starts the app first, e.g.
with `integration_bridge.testing.bridge_client`.
"""

from __future__ import annotations

from aiohttp import web

from integration_bridge import runtime
from integration_bridge.appkeys import PUBLISHER, SETTINGS, TOKEN_CACHE
from integration_bridge.cache.token import RefreshFn
from integration_bridge.models import Config
from integration_bridge.pubsub.events import publish_provider_key_update

__all__ = ["get_fresh_access_token", "update_provider_key"]


def _app(caller: str) -> web.Application:
    try:
        return runtime.current_app()
    except RuntimeError:
        raise RuntimeError(
            f"{caller} needs a running bridge app (create_app(...) started, e.g. by"
            " run() or integration_bridge.testing.bridge_client): the token cache"
            " belongs to the app"
        ) from None


async def get_fresh_access_token(config: Config, refresh_fn: RefreshFn, force: bool = False) -> str:
    """The cached access token for ``config.api_key``, refreshed when needed.

    Args:
        config: the caller's configuration; ``api_key`` keys the cache.
        refresh_fn: ``async (config) -> token`` making a new access token; it may
            return the token, ``(token, expires_in)`` or an object with
            ``access_token`` and ``expires_in`` (e.g. `TokenSet`), and the token is
            then kept no longer than its lifetime minus a margin.
        force: refresh now even when a token is cached.

    Returns:
        The access token. Concurrent callers share one refresh; across
        processes a pending marker makes the others wait for its result.
        Without ``OAUTH2_REDIRECT_URL`` tokens are kept in this process only
        (never in Redis); the original framework refreshes on every call then.

    Raises:
        RuntimeError: no bridge app is running (see the module docstring).
    """
    cache = _app("get_fresh_access_token")[TOKEN_CACHE]
    return await cache.get(config, refresh_fn, force)


async def update_provider_key(config: Config, access_token: str, provider_key: str) -> None:
    """Cache ``access_token`` under the new ``provider_key`` and announce the new key.

    Publishes ``{"userId", "integrationName", "providerKey"}`` to
    ``PUBSUB_TOPIC_NAME_UPDATE_PROVIDER_KEY``.

    Raises:
        RuntimeError: no bridge app is running (see the module docstring).
    """
    app = _app("update_provider_key")
    await app[TOKEN_CACHE].store(provider_key, access_token)
    await publish_provider_key_update(app[PUBLISHER], app[SETTINGS], config, provider_key)
