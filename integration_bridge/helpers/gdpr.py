"""The original's GDPR notification router: GDPR webhooks forwarded to a Slack channel.

Shop platforms (Shopify's mandatory webhooks) call ``POST
/gdpr/customers/data_request/``, ``/gdpr/customers/redact/`` and
``/gdpr/shop/redact/``; each request is posted to a Slack incoming webhook as
``GDPR request: host <host>, path <path>`` with the payload, for a person to act
on. Mount the routes with ``create_app(adapter, routes=[gdpr_slack_notification_routes(url)])``
or declare them in `Adapter.routes` for ``python -m integration_bridge run``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
from aiohttp import web

from integration_bridge.errors import ServerError
from integration_bridge.responses import empty_response, read_json

__all__ = ["GDPR_PATHS", "gdpr_slack_notification_routes"]

GDPR_PATHS = ("/customers/data_request/", "/customers/redact/", "/shop/redact/")
"""The paths under ``/gdpr``, as the original names them."""

_log = logging.getLogger("integration_bridge.gdpr")


def gdpr_slack_notification_routes(webhook_url: str, *, timeout: float = 10.0) -> web.RouteTableDef:
    """POST routes under ``/gdpr/`` that forward each request to a Slack webhook.

    Args:
        webhook_url: the Slack incoming webhook URL (a secret: never logged).
        timeout: seconds the Slack call may take.

    Returns:
        Routes for `create_app`'s ``routes`` or `Adapter.routes`. Each answers
        200 with an empty body once Slack has the message, 400 for a body that
        is not JSON, and 500 ``Error in <path>: ...`` when Slack cannot be reached.
    """
    routes = web.RouteTableDef()
    for path in GDPR_PATHS:
        routes.post(f"/gdpr{path}")(_forwarder(webhook_url, path, timeout))
    return routes


def _forwarder(
    webhook_url: str, path: str, timeout: float
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def forward(request: web.Request) -> web.StreamResponse:
        payload = await read_json(request)
        pretty = orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
        message = f"GDPR request: host {request.host}, path {path}\nRequest Payload:\n {pretty}"
        # Path only: the payload names a shop's customers, it goes to Slack, not to the logs.
        _log.info("[gdpr] GDPR request: host %s, path %s", request.host, path)
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.post(webhook_url, json={"text": message}) as response,
            ):
                if response.status >= 400:
                    raise ServerError(500, f"Error in {path}: Slack answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServerError(500, f"Error in {path}: {type(error).__name__}") from None
        return empty_response()

    return forward
