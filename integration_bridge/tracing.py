"""OpenTelemetry tracing (SPEC 9), loaded only when it is switched on.

`create_app` imports this module only when `Settings.tracing_enabled`: it puts
`tracing_middleware` outermost and `tracing_context` first in ``cleanup_ctx``
and calls `install`; with tracing off no OpenTelemetry code is imported and
nothing extra runs on the request path.

When on, at start-up a `TracerProvider` (service name
``bridge.<INTEGRATION_NAME>``, sampler from ``OTEL_TRACES_SAMPLER``) exports
through a batching OTLP/HTTP exporter: to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``), else, when switched on by
the original's variables, to the original's collector address; a
``BACKEND_TRACING_API_KEY`` is sent as its ``apikey`` header. Spans:

* one SERVER span per request, named ``<METHOD> <route template>``
  (``GET /contacts/{id}``), continuing an incoming W3C ``traceparent``. It is
  our own middleware rather than opentelemetry-instrumentation-aiohttp-server,
  whose instrumentor replaces ``aiohttp.web.Application`` process-wide: here
  tracing belongs to one app and its settings;
* ``adapter.<method>`` around every implemented adapter method;
* ``contacts.cache`` around the contact cache lookup, with
  ``bridge.cache.outcome`` = fresh, stale, miss or pending;
* ``pubsub.publish <topic>`` around each publish request; messages that carry
  no trace context of their own get this span's as attributes;
* aiohttp client calls (the CRM, Pub/Sub) and Redis commands through the
  official opentelemetry-instrumentation-aiohttp-client and -redis.

The contact streamer gets the request's trace context (``traceparent``,
``tracestate``) to put into every message; log lines written inside a
traced request get Cloud Logging's trace fields (`integration_bridge.logging`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from integration_bridge import logging as bridge_logging
from integration_bridge.adapter import NOT_IMPLEMENTED_MESSAGES, Adapter
from integration_bridge.appkeys import ADAPTER, CONTACT_CACHE, PUBLISHER, SETTINGS, STREAMER
from integration_bridge.settings import Settings

__all__ = [
    "ORIGINAL_COLLECTOR_ENDPOINT",
    "TRACER",
    "install",
    "log_fields",
    "route_template",
    "trace_context",
    "tracing_context",
    "tracing_middleware",
]

_log = logging.getLogger("integration_bridge.tracing")

ORIGINAL_COLLECTOR_ENDPOINT = (
    "http://opentelemetry-collector.monitoring.svc.cluster.local:4318/v1/traces"
)
"""Where the original framework sends its traces (used when no OTLP endpoint is set)."""

TRACER: web.AppKey[Tracer] = web.AppKey("tracer", Tracer)
_PROVIDER: web.AppKey[TracerProvider] = web.AppKey("tracer_provider", TracerProvider)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request) -> str | None:
    """The matched route's template (``/contacts/{id}``), None for an unmatched path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def trace_context() -> dict[str, str]:
    """The current W3C trace context as ``{"traceparent": ..., "tracestate": ...}``."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {key: carrier[key] for key in ("traceparent", "tracestate") if carrier.get(key)}


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_traces_exporter == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.traces_endpoint
    if endpoint is None and (settings.backend_tracing_enabled or settings.backend_tracing_api_key):
        endpoint = ORIGINAL_COLLECTOR_ENDPOINT
    headers: dict[str, str] | None = None
    if settings.backend_tracing_api_key:
        from opentelemetry.util.re import parse_env_headers

        headers = dict(
            parse_env_headers(
                os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS")
                or "",
                liberal=True,
            )
        )
        headers["apikey"] = settings.backend_tracing_api_key.get_secret_value()
    return OTLPSpanExporter(endpoint=endpoint, headers=headers)


def log_fields(project: str | None) -> Callable[[], dict[str, Any] | None]:
    """Cloud Logging's correlation fields for the current span (None outside a trace).

    ``logging.googleapis.com/trace`` needs the project (``GOOGLE_CLOUD_PROJECT``);
    without one only the span id and the sampled flag are written.
    """
    prefix = f"projects/{project}/traces/" if project else None

    def fields() -> dict[str, Any] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        entry: dict[str, Any] = {
            "logging.googleapis.com/spanId": format(context.span_id, "016x"),
            "logging.googleapis.com/trace_sampled": context.trace_flags.sampled,
        }
        if prefix is not None:
            entry["logging.googleapis.com/trace"] = prefix + format(context.trace_id, "032x")
        return entry

    return fields


def tracing_middleware(app: web.Application) -> Any:
    """One SERVER span per request, named by route template, continuing ``traceparent``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        tracer = app.get(TRACER)
        if tracer is None:  # not started yet
            return await handler(request)
        template = route_template(request)
        method = request.method
        name = f"{method} {template}" if template else method
        attributes: dict[str, Any] = {"http.request.method": method}
        if template:
            attributes["http.route"] = template
        with tracer.start_as_current_span(
            name,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as answer:  # redirects and aiohttp's own answers
                span.set_attribute("http.response.status_code", answer.status)
                raise
            except BaseException as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    return middleware


def _traced_coroutine(app: web.Application, name: str, method: Any) -> Any:
    @functools.wraps(method)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        tracer = app.get(TRACER)
        if tracer is None:
            return await method(*args, **kwargs)
        with tracer.start_as_current_span(name):
            return await method(*args, **kwargs)

    return traced


def _traced_generator(app: web.Application, name: str, method: Any) -> Any:
    @functools.wraps(method)
    async def traced(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        tracer = app.get(TRACER)
        if tracer is None:
            async for item in method(*args, **kwargs):
                yield item
            return
        with tracer.start_as_current_span(name) as span:
            batches = 0
            async for item in method(*args, **kwargs):
                batches += 1
                yield item
            span.set_attribute("bridge.stream.batches", batches)

    return traced


def _trace_adapter(app: web.Application, adapter: Adapter) -> None:
    """Wrap each implemented adapter method (on the instance) in an ``adapter.<name>`` span."""
    for name in NOT_IMPLEMENTED_MESSAGES:
        if not adapter.implements(name):
            continue
        method = getattr(adapter, name)
        if inspect.isasyncgenfunction(method):
            wrapped = _traced_generator(app, f"adapter.{name}", method)
        else:
            wrapped = _traced_coroutine(app, f"adapter.{name}", method)
        setattr(adapter, name, wrapped)


def _trace_cache(app: web.Application, tracer: Tracer) -> None:
    cache = app[CONTACT_CACHE]
    lookup = cache.get

    @functools.wraps(lookup)
    async def traced_get(config: Any) -> Any:
        with tracer.start_as_current_span("contacts.cache") as span:
            result = await lookup(config)
            span.set_attribute("bridge.cache.outcome", result.outcome)
            return result

    cache.get = traced_get  # type: ignore[method-assign]
    # Every traced lookup takes `get`, so that each has its one span with its outcome.
    cache.fresh = _not_at_hand  # type: ignore[method-assign]


def _not_at_hand(config: Any) -> None:
    """`ContactCache.fresh` when tracing: always "ask `get`"."""
    return None


def _trace_publisher(app: web.Application, tracer: Tracer) -> None:
    client: Any = getattr(app[PUBLISHER], "client", None)
    publish = getattr(client, "publish", None)
    if publish is None:
        return  # the local publisher sends nothing

    @functools.wraps(publish)
    async def traced_publish(topic: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(
            f"pubsub.publish {topic.rsplit('/', 1)[-1]}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "gcp_pubsub",
                "messaging.destination.name": topic,
                "messaging.batch.message_count": len(messages),
            },
        ):
            # Messages without a trace context of their own (webhook events, provider
            # key updates, get_publisher()) carry the publish span's, as attributes.
            carrier = trace_context()
            for message in messages:
                attributes = getattr(message, "attributes", None)
                if isinstance(attributes, dict) and "traceparent" not in attributes:
                    attributes.update(carrier)
            return await publish(topic, messages, *args, **kwargs)

    client.publish = traced_publish


async def tracing_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` (`create_app` puts it first): the provider and the instrumentations."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    settings = app[SETTINGS]
    service = f"bridge.{settings.integration_name or 'integration'}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # Export every second (the SDK's default is 5 s) unless OTEL_BSP_SCHEDULE_DELAY says otherwise.
    delay = None if os.environ.get("OTEL_BSP_SCHEDULE_DELAY") else 1000
    provider.add_span_processor(
        BatchSpanProcessor(_exporter(settings), schedule_delay_millis=delay)
    )
    app[_PROVIDER] = provider
    app[TRACER] = provider.get_tracer("integration_bridge")
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # bridge authors' own spans join in
    client = AioHttpClientInstrumentor()
    redis = RedisInstrumentor()
    client.instrument(tracer_provider=provider)
    redis.instrument(tracer_provider=provider)
    _log.info("[tracing] Tracing on: service %s", service)
    try:
        yield
    finally:
        bridge_logging.set_trace_fields(None)
        client.uninstrument()
        redis.uninstrument()
        # The exporter's last flush is blocking HTTP: keep it off the event loop.
        await asyncio.get_running_loop().run_in_executor(None, provider.shutdown)


async def _hook_components(app: web.Application) -> None:
    """``on_startup`` (after every ``cleanup_ctx``): spans around cache and publisher."""
    tracer = app[TRACER]
    # Now, not earlier: the Pub/Sub start-up may have found the Google project.
    bridge_logging.set_trace_fields(log_fields(app[SETTINGS].google_cloud_project))
    _trace_cache(app, tracer)
    if PUBLISHER in app:
        _trace_publisher(app, tracer)
    if STREAMER in app:
        app[STREAMER].trace_context = trace_context


def install(app: web.Application) -> None:
    """Trace the adapter, cache and publisher of ``app``; call from `create_app`, unfrozen."""
    app.on_startup.append(_hook_components)
    _trace_adapter(app, app[ADAPTER])
