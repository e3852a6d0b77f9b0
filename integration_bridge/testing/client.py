"""A test client of the whole bridge, and the headers of one user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from integration_bridge.adapter import Adapter
from integration_bridge.settings import Settings

__all__ = ["bridge_client", "user_headers"]


def user_headers(
    *,
    user_id: str = "test-user",
    api_key: str = "test-provider-key",
    api_url: str = "",
    locale: str = "de-DE",
) -> dict[str, str]:
    """The ``x-*`` headers the telephony front end sends for one user."""
    headers = {"x-user-id": user_id, "x-provider-key": api_key, "x-provider-locale": locale}
    if api_url:
        headers["x-provider-url"] = api_url
    return headers


async def bridge_client(
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
    adapter: Adapter,
    **settings: Any,
) -> TestClient[Any, Any]:
    """A pytest-aiohttp test client of the full bridge around ``adapter``.

    Settings are the defaults (memory cache, local publisher) changed by
    ``settings`` (`Settings` field names, e.g. ``cache_disabled=True``); the
    environment is not read.
    """
    from integration_bridge.app import create_app

    return await aiohttp_client(create_app(adapter, settings=Settings(**settings)))
