"""A bridge that declares the GDPR routes (started by the CLI test)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from aiohttp import web

from integration_bridge import Adapter, gdpr_slack_notification_routes
from integration_bridge.routing import RouteSource


class GdprBridge(Adapter):
    """Serves only the health check and its own routes."""

    def routes(self) -> Iterable[RouteSource]:
        """The GDPR notification routes and one endpoint of its own."""
        return [
            gdpr_slack_notification_routes(os.environ["SLACK_WEBHOOK_URL"]),
            web.get("/own/ping", self.ping),
        ]

    async def ping(self, request: web.Request) -> web.Response:
        """200 ``pong``."""
        return web.Response(text="pong")
