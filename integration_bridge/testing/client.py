"""A test client of the whole bridge, and the headers of one user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from integration_bridge.adapter import Adapter
from integration_bridge.settings import Settings

__all__ = [
    "API_KEY_HEADER",
    "API_URL_HEADER",
    "LOCALE_HEADER",
    "USER_ID_HEADER",
    "bridge_client",
    "user_headers",
]

USER_ID_HEADER = "x-user-id"
"""The telephony user (`Config.user_id`)."""
API_KEY_HEADER = "x-provider-key"
"""The user's CRM key or token (`Config.api_key`)."""
API_URL_HEADER = "x-provider-url"
"""The CRM's base URL for the user (`Config.api_url`)."""
LOCALE_HEADER = "x-provider-locale"
"""The user's locale (`Config.locale`)."""


def user_headers(
    *,
    user_id: str | None = "test-user",
    api_key: str | None = "test-provider-key",
    api_url: str | None = None,
    locale: str | None = "de-DE",
) -> dict[str, str]:
    """The ``x-*`` headers the telephony front end sends for one user.

    Each keyword sets one header; ``None`` leaves that header out (the bridge then
    reads an empty string, or ``de-DE`` for the locale). Without ``api_url`` there
    is no ``x-provider-url``::

        user_headers(api_key="k2", locale="en-US")  # another key and region
        user_headers(api_key=None)  # a caller without a key
    """
    values = {
        USER_ID_HEADER: user_id,
        API_KEY_HEADER: api_key,
        API_URL_HEADER: api_url,
        LOCALE_HEADER: locale,
    }
    return {name: value for name, value in values.items() if value is not None}


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
