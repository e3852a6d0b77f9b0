"""A user's cached contact list, for bridge code outside GET /contacts (the original's helpers).

Webhooks and call-event handlers look a caller up in the list GET /contacts
cached (`get_contact_cache_item`) or make the next GET /contacts fetch afresh
(`delete_contact_cache_item`). Both find the running app's contact cache the
way `get_fresh_access_token` finds the token cache: the app of the current
request, else the most recently started app.
"""

from __future__ import annotations

from typing import Any

from integration_bridge import runtime
from integration_bridge.appkeys import CONTACT_CACHE

__all__ = ["delete_contact_cache_item", "get_contact_cache_item"]


async def get_contact_cache_item(api_key: str) -> list[dict[str, Any]] | None:
    """The sanitized contacts cached for ``api_key`` (camelCase dicts), or None.

    Nothing is fetched: a user whose list is not cached (yet) gives None. A
    storage outage reads as None too.

    Raises:
        RuntimeError: no bridge app is running.
    """
    return await runtime.current_app()[CONTACT_CACHE].peek(api_key)


async def delete_contact_cache_item(api_key: str) -> None:
    """Drop the list cached for ``api_key`` (and its state): the next GET /contacts fetches.

    Raises:
        RuntimeError: no bridge app is running.
    """
    await runtime.current_app()[CONTACT_CACHE].drop(api_key)
