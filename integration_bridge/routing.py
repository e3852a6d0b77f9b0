"""Routing as tolerant as the original's Express: trailing slash and letter case ignored.

`TolerantRouter` answers exactly like aiohttp's `UrlDispatcher` whenever a path
matches as written. Only a path that matches nothing is tried again, once,
without its trailing slashes and with the static parts of the route templates
compared case-insensitively (``/Contacts/`` is ``/contacts``,
``/CONTACTS/AbC`` is ``/contacts/{id}`` with the id ``AbC`` kept as sent).
Doing it in the router, before any middleware runs, gives every middleware and
handler the route that really answers (its template, its ``match_info``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError, UrlMappingMatchInfo
from yarl import URL

__all__ = ["RouteSource", "TolerantRouter"]

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


class TolerantRouter(web.UrlDispatcher):
    """An aiohttp router that ignores a trailing slash and the case of a route's static parts."""

    def __init__(self) -> None:
        super().__init__()
        self._tolerant: list[_Template] | None = None

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        """The route for ``request``; on a miss, the route of its canonical path."""
        match = await super().resolve(request)
        if match.__class__ is UrlMappingMatchInfo:  # found (an ABC isinstance is a Python call)
            return match
        if not isinstance(match, MatchInfoError) or not isinstance(
            match.http_exception, web.HTTPNotFound
        ):
            return match  # the first test alone for every found route: this runs per request
        canonical = self._canonical_path(request.rel_url.raw_path)
        if canonical is None or canonical == request.rel_url.raw_path:
            return match
        url = URL.build(path=canonical, query_string=request.rel_url.raw_query_string, encoded=True)
        return await super().resolve(request.clone(rel_url=url))

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
