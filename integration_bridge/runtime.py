"""Which application is running, for module-level helpers bridge authors call.

`get_fresh_access_token` and `update_provider_key` are plain functions that
adapters call without a handle on the app; they find the app's token cache and
publisher here. Inside a request (and tasks started from it) that is the
request's app; elsewhere the most recently started app.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from aiohttp import web

__all__ = ["activate", "current_app", "deactivate", "request_app_var", "set_request_app_source"]

request_app_var: ContextVar[web.Application | None] = ContextVar(
    "integration_bridge_app", default=None
)
"""The app made current by `activate` (in its start-up, and in what that starts)."""
_last_started: web.Application | None = None

AppSource = Callable[[], web.Application | None]
_request_app: AppSource | None = None


def set_request_app_source(source: AppSource | None) -> None:
    """Install where the app of the request being handled is found (the middleware's).

    The bridge's middleware keeps it in its one request scope, so that a request
    does not also set (and reset) `request_app_var`.
    """
    global _request_app
    _request_app = source


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
    app = _request_app() if _request_app is not None else None
    app = app or request_app_var.get() or _last_started
    if app is None:
        raise RuntimeError("no integration_bridge app is running")
    return app
