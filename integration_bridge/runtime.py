"""Which application is running, for module-level helpers bridge authors call.

`get_fresh_access_token` and `update_provider_key` are plain functions that
adapters call without a handle on the app; they find the app's token cache and
publisher here. Inside a request (and tasks started from it) that is the
request's app; elsewhere the most recently started app.
"""

from __future__ import annotations

from contextvars import ContextVar

from aiohttp import web

__all__ = ["activate", "current_app", "deactivate", "request_app_var"]

request_app_var: ContextVar[web.Application | None] = ContextVar(
    "integration_bridge_app", default=None
)
"""The app of the request being handled (set by the request middleware)."""
_last_started: web.Application | None = None


def activate(app: web.Application, *, started: bool = False) -> None:
    """Make ``app`` the current one in this context (and, if ``started``, the default)."""
    global _last_started
    request_app_var.set(app)
    if started:
        _last_started = app


def deactivate(app: web.Application) -> None:
    """Forget ``app`` as the default once it has stopped."""
    global _last_started
    if _last_started is app:
        _last_started = None


def current_app() -> web.Application:
    """The app of the current request, or the most recently started one.

    Raises:
        RuntimeError: no bridge app is running.
    """
    app = request_app_var.get() or _last_started
    if app is None:
        raise RuntimeError("no integration_bridge app is running")
    return app
