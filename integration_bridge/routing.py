"""Routing as tolerant as the original's Express: trailing slash and letter case ignored.

`TolerantRouter` answers exactly like aiohttp's `UrlDispatcher` whenever a path
matches as written. Only a path that matches nothing is tried again, once,
without its trailing slashes and with the static parts of the route templates
compared case-insensitively (``/Contacts/`` is ``/contacts``,
``/CONTACTS/AbC`` is ``/contacts/{id}`` with the id ``AbC`` kept as sent).
Doing it in the router, before any middleware runs, gives every middleware and
handler the route that really answers (its template, its ``match_info``).

`TolerantRouter.run_handlers_in` runs every handler the router answers with
inside one wrapper (the bridge's middleware, see `integration_bridge.middlewares`
for why): the routes' handlers, sub-applications' included, once at `freeze`,
and the 404/405 answers when they are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import MatchInfoError, UrlMappingMatchInfo
from yarl import URL

__all__ = ["RouteSource", "TolerantRouter", "sub_apps"]

RouteSource = web.RouteTableDef | web.AbstractRouteDef | tuple[str, web.Application]
"""A bridge's own routes: a `RouteTableDef`, single route defs, or ``(prefix, sub_app)``
pairs mounted with `add_subapp` (for `create_app` and `Adapter.routes`)."""


@dataclass(frozen=True, slots=True)
class _Template:
    pattern: re.Pattern[str]
    formatter: str


def _templates(router: web.UrlDispatcher) -> list[_Template]:
    """Every route template, sub-applications' included, as case-insensitive patterns."""
    found: list[_Template] = []
    for resource in router.resources():
        info = resource.get_info()
        if isinstance(resource, web.PrefixedSubAppResource):
            found.extend(_templates(resource._app.router))  # their paths carry the prefix
        elif "path" in info:
            path = str(info["path"]).rstrip("/") or "/"
            found.append(_Template(re.compile(re.escape(path), re.IGNORECASE), str(info["path"])))
        elif "pattern" in info and "formatter" in info:
            pattern = info["pattern"].pattern.rstrip("/") or "/"
            found.append(_Template(re.compile(pattern, re.IGNORECASE), str(info["formatter"])))
    return found


def sub_apps(router: web.UrlDispatcher) -> Iterator[web.Application]:
    """Every application mounted under ``router``, at any depth."""
    for resource in router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):  # domain sub-apps included
            app: web.Application = resource.get_info()["app"]
            yield app
            yield from sub_apps(app.router)


class _WrappedError(MatchInfoError):
    """A 404/405 whose handler runs inside the router's wrapper, like every route's."""

    __slots__ = ("_handler",)

    def __init__(self, error: MatchInfoError, wrap: Callable[[web.AbstractRoute], Handler]):
        super().__init__(error.http_exception)
        self._handler = wrap(self.route)

    @property
    def handler(self) -> Handler:
        return self._handler


_resolve = web.UrlDispatcher.resolve


class TolerantRouter(web.UrlDispatcher):
    """An aiohttp router that ignores a trailing slash and the case of a route's static parts."""

    def __init__(self) -> None:
        super().__init__()
        self._tolerant: list[_Template] | None = None
        self._wrap: Callable[[web.AbstractRoute], Handler] | None = None
        # (method, path) of every route with a plain path, once frozen: found as written.
        self._exact: frozenset[tuple[str, str]] = frozenset()

    def run_handlers_in(self, wrap: Callable[[web.AbstractRoute], Handler]) -> None:
        """Answer with ``wrap(route)`` instead of each route's handler (404/405 included).

        The routes' handlers are replaced once, at `freeze`; sub-applications must
        have no middlewares of their own then (they would run outside the wrapper).
        """
        self._wrap = wrap

    def freeze(self) -> None:
        """Freeze, and wrap every route's handler (see `run_handlers_in`)."""
        wrap = self._wrap
        if wrap is not None and not self.frozen:
            for app in sub_apps(self):
                if app.middlewares:
                    raise RuntimeError(
                        "a sub-application with middlewares of its own must be mounted through"
                        " create_app(routes=...) or Adapter.routes(), so that the bridge's"
                        " middleware runs outside them"
                    )
            for route in self.routes():  # sub-applications' routes included
                # aiohttp has no public setter; it calls the handler and awaits the result.
                route._handler = wrap(route)  # type: ignore[assignment]
        super().freeze()
        self._exact = frozenset(
            (route.method, resource.canonical)
            for resource in self.resources()
            if isinstance(resource, web.PlainResource)
            for route in resource
        )

    def resolve(self, request: web.Request) -> Coroutine[Any, Any, UrlMappingMatchInfo]:
        """The route for ``request``; on a miss, the route of its canonical path.

        A request for a plain route's own method and path (GET /health, GET
        /contacts) is certain to be found as written: it gets aiohttp's own
        resolution, without a coroutine of ours around it.
        """
        if (request.method, request.rel_url.path_safe) in self._exact:
            return _resolve(self, request)
        return self._resolve_tolerant(request)

    async def _resolve_tolerant(self, request: web.Request) -> UrlMappingMatchInfo:
        match = await _resolve(self, request)  # aiohttp's, without building a `super()`
        if match.__class__ is UrlMappingMatchInfo:  # found (an ABC isinstance is a Python call)
            return match
        if isinstance(match, MatchInfoError) and isinstance(match.http_exception, web.HTTPNotFound):
            canonical = self._canonical_path(request.rel_url.raw_path)
            if canonical is not None and canonical != request.rel_url.raw_path:
                url = URL.build(
                    path=canonical, query_string=request.rel_url.raw_query_string, encoded=True
                )
                match = await _resolve(self, request.clone(rel_url=url))
        if self._wrap is not None and match.__class__ is MatchInfoError:
            return _WrappedError(match, self._wrap)
        return match

    def _canonical_path(self, raw_path: str) -> str | None:
        if self._tolerant is None or not self.frozen:
            templates = _templates(self)
            if not self.frozen:
                return _first_match(templates, raw_path)
            self._tolerant = templates
        return _first_match(self._tolerant, raw_path)


def _first_match(templates: list[_Template], raw_path: str) -> str | None:
    path = raw_path.rstrip("/") or "/"
    for template in templates:
        found = template.pattern.fullmatch(path)
        if found is not None:
            return template.formatter.format_map(found.groupdict())
    return None
