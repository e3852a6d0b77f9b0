"""`create_app` composes the app in its documented order."""

from __future__ import annotations

from integration_bridge import Adapter, Settings, create_app


def test_tracing_outermost_then_metrics_then_the_bridge() -> None:
    settings = Settings.from_env({"OTEL_TRACES_EXPORTER": "console", "METRICS_ENABLED": "true"})
    app = create_app(Adapter(), settings=settings)
    modules = [middleware.__module__.rpartition(".")[2] for middleware in app.middlewares]
    assert modules == ["tracing", "metrics"]  # the bridge's runs inside, as part of each handler
    contexts = [context.__name__ for context in app.cleanup_ctx]
    assert contexts == [
        "tracing_context",
        "_runtime_context",
        "_storage_context",
        "_token_cache_context",
        "_adapter_context",
        "_pubsub_context",
        "sync_context",
    ]


def test_no_aiohttp_middleware_when_tracing_and_metrics_are_off() -> None:
    # aiohttp then skips its middleware machinery on every request (see `middlewares`).
    assert list(create_app(Adapter(), settings=Settings()).middlewares) == []
