"""What several route areas share."""

from __future__ import annotations

import logging

from aiohttp import web

from integration_bridge.appkeys import ADAPTER
from integration_bridge.middlewares import config_of

__all__ = ["attach_provider_key"]

_log = logging.getLogger("integration_bridge.routes")


async def attach_provider_key(
    request: web.Request, response: web.StreamResponse, *, required: bool
) -> None:
    """Send the adapter's `get_token` result as ``X-Provider-Key`` when it has one.

    Args:
        request: the request being answered.
        response: the answer, not yet sent.
        required: a failing ``get_token`` fails the request (write routes) instead
            of being logged and ignored (GET /contacts, the stream).
    """
    adapter = request.app[ADAPTER]
    if not adapter.implements("get_token"):
        return
    try:
        token = await adapter.get_token(config_of(request))
    except Exception:
        if required:
            raise
        _log.warning("[getToken] Could not refresh the provider key", exc_info=True)
        return
    if token:
        response.headers["X-Provider-Key"] = str(token)
