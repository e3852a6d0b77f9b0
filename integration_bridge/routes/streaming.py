"""POST /contacts/stream."""

from __future__ import annotations

from aiohttp import web

from integration_bridge.adapter import require
from integration_bridge.appkeys import ADAPTER, STREAMER
from integration_bridge.errors import ServerError
from integration_bridge.middlewares import config_of
from integration_bridge.models.responses import StreamStarted
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.pubsub.streaming import TooManyStreams
from integration_bridge.responses import json_response, text_response
from integration_bridge.routes.common import attach_provider_key

__all__ = ["stream_contacts_handler"]


@documented(
    Operation(
        summary="Stream all contacts to Pub/Sub in batches; answers at once.",
        adapter_method="stream_contacts",
        tag="contacts",
        replies={
            200: Reply(
                "The stream's timestamp (also for a stream of this user already running).",
                "json",
                StreamStarted,
                headers=("X-Provider-Key",),
            ),
            429: Reply(
                "`STREAM_MAX_CONCURRENT` streams are running.", "text", headers=("Retry-After",)
            ),
        },
        errors={400: "`Missing user ID` (no `x-user-id`), or bad headers."},
    )
)
async def stream_contacts_handler(request: web.Request) -> web.Response:
    """Start streaming the caller's contacts to Pub/Sub; answers ``{"timestamp": ms}`` at once."""
    require(request.app[ADAPTER], "stream_contacts")
    config = config_of(request)
    if not config.user_id:
        raise ServerError(400, "Missing user ID")
    try:
        timestamp = request.app[STREAMER].start(config)
    except TooManyStreams as refused:
        answer = text_response(refused.message, status=refused.status)
        answer.headers["Retry-After"] = str(refused.retry_after)
        return answer
    response = json_response({"timestamp": timestamp})
    await attach_provider_key(request, response, required=False)
    return response
