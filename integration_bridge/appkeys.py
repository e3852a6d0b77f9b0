"""Typed keys of the state an application holds (``app[KEY]``), and its hot-path copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from integration_bridge.adapter import Adapter
    from integration_bridge.cache.contacts import ContactCache
    from integration_bridge.cache.storage import Storage
    from integration_bridge.cache.token import TokenCache
    from integration_bridge.phone_pool import PhoneParsePool
    from integration_bridge.pubsub.factory import BackendChoice
    from integration_bridge.pubsub.publisher import Publisher
    from integration_bridge.pubsub.streaming import ContactStreamer
    from integration_bridge.settings import Settings

ADAPTER: web.AppKey[Adapter] = web.AppKey("adapter")
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
CONTACT_CACHE: web.AppKey[ContactCache] = web.AppKey("contact_cache")
TOKEN_CACHE: web.AppKey[TokenCache] = web.AppKey("token_cache")
PUBLISHER: web.AppKey[Publisher] = web.AppKey("publisher")
STREAMER: web.AppKey[ContactStreamer] = web.AppKey("contact_streamer")
PUBSUB_BACKEND: web.AppKey[BackendChoice] = web.AppKey("pubsub_backend")
PHONE_POOL: web.AppKey[PhoneParsePool] = web.AppKey("phone_parse_pool")


@dataclass(frozen=True, slots=True)
class Serving:
    """What the busiest routes read on every request, copied from the app once it has started.

    aiohttp freezes an application's state when it starts, so the copy stays
    true; reading its attributes costs no Python call, where every ``app[KEY]``
    costs one (three on a cached GET /contacts).
    """

    adapter: Adapter
    contact_cache: ContactCache
    cache_disabled: bool
