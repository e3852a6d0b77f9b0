"""Prometheus metrics (SPEC 9), loaded only with ``METRICS_ENABLED=true``.

`create_app` imports this module only when metrics are on: it puts
`metrics_middleware` inside the tracing one, appends `sync_context` to
``cleanup_ctx`` and calls `install`; then ``GET /metrics`` answers the
Prometheus text format (prometheus-client):

* ``bridge_http_request_duration_seconds{method,route,status}`` — every request,
  labelled by route template (``/contacts/{id}``; ``unmatched`` for a 404 path);
* ``bridge_contact_cache_lookups_total{outcome}`` — fresh, stale, miss, pending;
* ``bridge_crm_request_duration_seconds{method}`` and
  ``bridge_crm_request_failures_total{method}`` — the adapter's calls into the CRM;
* ``bridge_pubsub_messages_total{outcome}`` (published, failed),
  ``bridge_pubsub_publish_retries_total``, ``bridge_pubsub_paused_ordering_keys``,
  ``bridge_pubsub_queued_messages``;
* ``bridge_redis_unavailable`` — 1 while Redis is failing (only with ``REDIS_URL``);
* ``bridge_token_refreshes_total`` and ``bridge_contact_streams_running``.

Request, cache and CRM figures are recorded as they happen; the component
figures (publisher, Redis, token cache, streams) are plain counters those
components keep anyway, copied into the metrics on every scrape and, with
several workers, every second.

Several workers (``--workers N``): prometheus-client's multiprocess mode. The
CLI points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before it forks,
every worker writes its figures there, and whichever worker answers a scrape
sums them up (gauges: live workers only), so one scrape shows the whole
process group behind one port. The CLI marks a finished worker dead and
removes the directory on exit. One port per worker was the alternative; it
does not fit a Kubernetes scrape of one container port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from integration_bridge.adapter import NOT_IMPLEMENTED_MESSAGES, Adapter
from integration_bridge.appkeys import (
    ADAPTER,
    CONTACT_CACHE,
    PUBLISHER,
    STORAGE,
    STREAMER,
    TOKEN_CACHE,
)
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.pubsub.publisher import BatchingPublisher

__all__ = [
    "METRICS",
    "METRICS_PATH",
    "MULTIPROC_ENV",
    "Metrics",
    "install",
    "metrics_middleware",
    "sync_context",
]

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's variable for multiprocess mode (set by the CLI with ``--workers``)."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SYNC_INTERVAL = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    """The metrics of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Histogram(
            "bridge_http_request_duration_seconds",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.cache_lookups = Counter(
            "bridge_contact_cache_lookups",
            "Contact cache lookups of GET /contacts by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.crm_duration = Histogram(
            "bridge_crm_request_duration_seconds",
            "Adapter calls into the CRM by adapter method.",
            ["method"],
            registry=registry,
        )
        self.crm_failures = Counter(
            "bridge_crm_request_failures",
            "Adapter calls that raised, by adapter method.",
            ["method"],
            registry=registry,
        )
        self.pubsub_messages = Counter(
            "bridge_pubsub_messages",
            "Pub/Sub messages by outcome (published, failed).",
            ["outcome"],
            registry=registry,
        )
        self.pubsub_retries = Counter(
            "bridge_pubsub_publish_retries", "Publish requests retried.", registry=registry
        )
        self.pubsub_paused = Gauge(
            "bridge_pubsub_paused_ordering_keys",
            "Ordering keys paused after a failed publish.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.pubsub_queued = Gauge(
            "bridge_pubsub_queued_messages",
            "Messages waiting to be published.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.redis_unavailable = Gauge(
            "bridge_redis_unavailable",
            "1 while Redis is failing and the caches fall through, else 0.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.token_refreshes = Counter(
            "bridge_token_refreshes", "OAuth token refresh calls.", registry=registry
        )
        self.streams = Gauge(
            "bridge_contact_streams_running",
            "Contact streams running now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._seen: dict[str, int] = {}

    def _add(self, counter: Any, name: str, total: int) -> None:
        """Advance ``counter`` to a component's running ``total``."""
        delta = total - self._seen.get(name, 0)
        if delta > 0:
            counter.inc(delta)
        self._seen[name] = total

    def sync(self, app: web.Application) -> None:
        """Copy the components' own figures into the metrics."""
        publisher = app.get(PUBLISHER)
        if isinstance(publisher, BatchingPublisher):
            self._add(self.pubsub_messages.labels("published"), "published", publisher.published)
            self._add(self.pubsub_messages.labels("failed"), "failed", publisher.failed)
            self._add(self.pubsub_retries, "retries", publisher.retries)
            self.pubsub_paused.set(publisher.paused_keys)
            self.pubsub_queued.set(publisher.queued)
        storage = app.get(STORAGE)
        available = getattr(storage, "available", None)
        if isinstance(available, bool):
            self.redis_unavailable.set(0 if available else 1)
        tokens = app.get(TOKEN_CACHE)
        if tokens is not None:
            self._add(self.token_refreshes, "token_refreshes", tokens.refreshes)
        streamer = app.get(STREAMER)
        if streamer is not None:
            self.streams.set(streamer.running)

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of every worker in multiprocess mode."""
        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


def metrics_middleware(metrics: Metrics) -> Any:
    """Time every request into ``metrics``' duration histogram, by route template and status."""
    requests = metrics.requests

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as answer:
            status = answer.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            method = request.method if request.method in _METHODS else "OTHER"
            requests.labels(method, route, str(status)).observe(time.perf_counter() - started)

    return middleware


@documented(
    Operation(
        summary="Prometheus metrics (only with METRICS_ENABLED=true).",
        config=False,
        tag="meta",
        replies={200: Reply("The Prometheus text format.", media="text")},
    )
)
async def metrics_handler(request: web.Request) -> web.Response:
    """The Prometheus scrape."""
    metrics = request.app[METRICS]
    metrics.sync(request.app)
    response = web.Response(body=metrics.exposition())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def _timed(app: web.Application, name: str, method: Any) -> Any:
    @functools.wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        metrics = app[METRICS]
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        except BaseException:
            metrics.crm_failures.labels(name).inc()
            raise
        finally:
            metrics.crm_duration.labels(name).observe(time.perf_counter() - started)

    return timed


def _time_adapter(app: web.Application, adapter: Adapter) -> None:
    """Time each implemented adapter method (streams are counted as streams instead)."""
    for name in NOT_IMPLEMENTED_MESSAGES:
        if name in {"get_health", "stream_contacts"} or not adapter.implements(name):
            continue
        method = getattr(adapter, name)
        if inspect.iscoroutinefunction(method):
            setattr(adapter, name, _timed(app, name, method))


async def _count_cache(app: web.Application) -> None:
    """``on_startup`` (after every ``cleanup_ctx``): count the contact cache's outcomes."""
    cache = app[CONTACT_CACHE]
    lookup = cache.get
    lookups = app[METRICS].cache_lookups

    @functools.wraps(lookup)
    async def counted_get(config: Any) -> Any:
        result = await lookup(config)
        lookups.labels(result.outcome).inc()
        return result

    cache.get = counted_get  # type: ignore[method-assign]
    fresh = cache.fresh
    fresh_lookups = lookups.labels("fresh")

    @functools.wraps(fresh)
    def counted_fresh(config: Any) -> Any:
        blob = fresh(config)
        if blob is not None:  # None: the route asks `get`, which counts the lookup
            fresh_lookups.inc()
        return blob

    cache.fresh = counted_fresh  # type: ignore[method-assign]


async def sync_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: with several workers, keep this worker's component figures current."""
    if not os.environ.get(MULTIPROC_ENV):
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(_SYNC_INTERVAL)
            app[METRICS].sync(app)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(app: web.Application) -> None:
    """Serve ``GET /metrics``, record into ``app[METRICS]``; call from `create_app`, unfrozen."""
    app[METRICS] = Metrics()
    app.on_startup.append(_count_cache)
    app.router.add_get(METRICS_PATH, metrics_handler)
    _time_adapter(app, app[ADAPTER])
