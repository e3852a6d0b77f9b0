"""`create_app`: the one place that wires a bridge together.

Middleware order, outermost first: tracing, metrics (each only when on) →
`bridge_middleware` (CORS, log context, error answers, timing and compression,
the log line; see `integration_bridge.middlewares`), which the router runs as
part of every route's handler (`TolerantRouter.run_handlers_in`: no aiohttp
middleware machinery when tracing and metrics are off) unless a mounted
sub-application has middlewares of its own. State lives in typed
`AppKey`s. Every ``cleanup_ctx`` is appended here, in this order, and closed in
reverse: the tracing provider (only when on, first so its spans cover the
others and it flushes last), the runtime, storage, the token cache, the
adapter (`Adapter.startup`), the Pub/Sub publisher (so running streams are
drained while the adapter and the publisher are still up), then the metrics'
multi-worker sync (only when on). The optional `tracing` and `metrics` modules
offer their middleware and context functions and are imported only when on;
the other modules build their objects and know nothing of the app."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import Any

from aiohttp import web

from integration_bridge import runtime
from integration_bridge.adapter import Adapter
from integration_bridge.appkeys import (
    ADAPTER,
    CONTACT_CACHE,
    PHONE_POOL,
    PUBLISHER,
    PUBSUB_BACKEND,
    SETTINGS,
    STORAGE,
    STREAMER,
    TOKEN_CACHE,
    Serving,
)
from integration_bridge.cache.contacts import ContactCache
from integration_bridge.cache.factory import (
    check_redis_settings,
    create_storage,
    create_token_cache,
)
from integration_bridge.contacts import prepare_contacts_in
from integration_bridge.middlewares import around_route, bridge_middleware
from integration_bridge.models import Config
from integration_bridge.openapi import install as install_openapi
from integration_bridge.phone_pool import PhoneParsePool
from integration_bridge.protocol import protocol_handler_args
from integration_bridge.pubsub.factory import check_pubsub_settings, choose_backend, open_publisher
from integration_bridge.pubsub.streaming import ContactStreamer
from integration_bridge.routes import basic, calls, contacts, entities, oauth
from integration_bridge.routes.streaming import stream_contacts_handler
from integration_bridge.routes.webhooks import webhook_handler
from integration_bridge.routing import RouteSource, TolerantRouter, sub_apps
from integration_bridge.settings import Settings

__all__ = ["check_settings", "create_app"]

_log = logging.getLogger("integration_bridge.app")


def check_settings(adapter: Adapter, settings: Settings) -> Settings:
    """Start-up checks that depend on what the adapter implements.

    Raises:
        SettingsError: a required variable is missing or malformed.
    """
    check_redis_settings(settings)
    if settings.cors_origins is None and settings.node_env == "production":
        _log.warning(
            "[startup] CORS_ORIGINS is not set: any origin may call this bridge with credentials;"
            " set CORS_ORIGINS to the front ends' origins in production"
        )
    return check_pubsub_settings(settings, adapter)


async def _storage_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    adapter = app[ADAPTER]
    storage = create_storage(settings)
    app[STORAGE] = storage

    phone_pool = PhoneParsePool(settings.phone_parse_workers)
    app[PHONE_POOL] = phone_pool

    async def fetch(config: Config) -> list[dict[str, Any]]:
        return await prepare_contacts_in(
            phone_pool, await adapter.get_contacts(config), config.locale
        )

    cache = ContactCache(
        storage,
        fetch,
        refresh_interval=settings.cache_refresh_interval,
        fetch_timeout=settings.contact_fetch_timeout,
    )
    app[CONTACT_CACHE] = cache
    try:
        yield
    finally:
        await cache.close()
        phone_pool.close()
        await storage.close()


async def _token_cache_context(app: web.Application) -> AsyncIterator[None]:
    cache = create_token_cache(app[SETTINGS], app[STORAGE])
    app[TOKEN_CACHE] = cache
    try:
        yield
    finally:
        if cache.storage is not None and cache.storage is not app[STORAGE]:
            await cache.storage.close()  # the in-process store it owns


async def _runtime_context(app: web.Application) -> AsyncIterator[None]:
    runtime.activate(app, started=True)
    try:
        yield
    finally:
        runtime.deactivate(app)


async def _adapter_context(app: web.Application) -> AsyncIterator[None]:
    adapter = app[ADAPTER]
    await adapter.startup()
    try:
        yield
    finally:
        await adapter.shutdown()


async def _pubsub_context(app: web.Application) -> AsyncIterator[None]:
    """The publisher and the streamer; on shutdown drain the streams, flush, close."""
    publisher, settings = await open_publisher(app[SETTINGS], app[PUBSUB_BACKEND])
    app[SETTINGS] = settings  # with the Google project found at start-up
    streamer = ContactStreamer(app[ADAPTER], publisher, settings)
    app[PUBLISHER] = publisher
    app[STREAMER] = streamer
    try:
        yield
    finally:
        # One SHUTDOWN_TIMEOUT for both: streams drain first, the publisher flushes in what
        # is left (at least a second of it, for the final states of cut streams).
        budget = settings.shutdown_timeout
        started = asyncio.get_running_loop().time()
        await streamer.shutdown(budget)
        left = budget - (asyncio.get_running_loop().time() - started)
        await publisher.close(timeout=max(left, min(1.0, budget)))


def create_app(
    adapter: Adapter,
    *,
    settings: Settings | None = None,
    routes: Iterable[RouteSource] = (),
) -> web.Application:
    """Build the aiohttp application serving ``adapter``.

    Args:
        adapter: the bridge.
        settings: configuration; read from the environment when None.
        routes: extra routes or ``(prefix, sub_app)`` pairs of the bridge's own,
            mounted after those the adapter declares (`Adapter.routes`).

    Raises:
        SettingsError: the configuration does not fit the adapter.
    """
    if not isinstance(adapter, Adapter):
        raise TypeError(f"expected an Adapter instance, got {type(adapter).__name__}")
    settings = settings or Settings.from_env()
    pubsub_backend = choose_backend(settings)  # before local defaults fill in topic names
    settings = check_settings(adapter, settings)
    router = TolerantRouter()
    with warnings.catch_warnings():
        # aiohttp marks ``router=`` deprecated but offers no other way to route
        # as tolerantly as Express does (see `TolerantRouter`).
        warnings.simplefilter("ignore", DeprecationWarning)
        app = web.Application(
            router=router,
            client_max_size=settings.max_body_size,
            handler_args=protocol_handler_args(),
        )
    app[ADAPTER] = adapter
    app[SETTINGS] = settings
    app[PUBSUB_BACKEND] = pubsub_backend
    if settings.tracing_enabled:
        from integration_bridge import tracing  # imports OpenTelemetry only when on

        app.middlewares.append(tracing.tracing_middleware(app))
        app.cleanup_ctx.append(tracing.tracing_context)
    if settings.metrics_enabled:
        from integration_bridge import metrics  # imports prometheus-client only when on

        metrics.install(app)
        app.middlewares.append(metrics.metrics_middleware(app[metrics.METRICS]))
    app.cleanup_ctx.append(_runtime_context)
    app.cleanup_ctx.append(_storage_context)
    app.cleanup_ctx.append(_token_cache_context)
    app.cleanup_ctx.append(_adapter_context)
    app.cleanup_ctx.append(_pubsub_context)
    if settings.metrics_enabled:
        app.cleanup_ctx.append(metrics.sync_context)
    if settings.tracing_enabled:
        tracing.install(app)  # after metrics.install: its adapter spans wrap the timing

    app.router.add_post("/contacts/stream", stream_contacts_handler)
    app.router.add_post("/webhook", webhook_handler)
    for area in (basic, contacts, calls, entities, oauth):
        app.router.add_routes(area.routes)
    install_openapi(app)

    for source in (*adapter.routes(), *routes):
        if isinstance(source, tuple):
            prefix, sub_app = source
            app.add_subapp(prefix, sub_app)
        elif isinstance(source, web.RouteTableDef):
            app.router.add_routes(source)
        else:
            app.router.add_routes([source])

    serving: list[Serving] = []

    async def copy_serving(app: web.Application) -> None:
        """After every other start-up step (tracing and metrics wrap the cache in theirs)."""
        serving.append(Serving(app[ADAPTER], app[CONTACT_CACHE], settings.cache_disabled))

    app.on_startup.append(copy_serving)
    middleware = bridge_middleware(
        app, settings.cors_origins, serving, server_timing=settings.server_timing
    )
    if any(sub_app.middlewares for sub_app in sub_apps(router)):
        app.middlewares.append(middleware)  # outside the sub-application's own
    else:
        router.run_handlers_in(partial(around_route, middleware))
    return app
