"""POST /webhook."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from integration_bridge.adapter import require
from integration_bridge.appkeys import ADAPTER, PUBLISHER, SETTINGS
from integration_bridge.errors import ServerError
from integration_bridge.models import IntegrationsEvent
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.pubsub.events import publish_integration_events
from integration_bridge.responses import as_returned, text_response

__all__ = ["webhook_handler"]

_log = logging.getLogger("integration_bridge.webhook")

# What an adapter raises reading a body that is not what the CRM sends: malformed
# JSON (ValueError, also pydantic's ValidationError), a list for an object and the like.
_UNREADABLE_BODY = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def _event(value: Any) -> dict[str, Any]:
    """An event as the adapter returned it (the original does not validate it)."""
    event = as_returned(value, IntegrationsEvent, "event")
    if not isinstance(event, dict):
        raise ServerError(500, "Invalid event returned from bridge: expected an object")
    return event


@documented(
    Operation(
        summary="A CRM webhook: verified, turned into events, published to Pub/Sub.",
        adapter_method="handle_webhook",
        config=False,
        raw_body=True,
        tag="webhooks",
        replies={
            200: Reply("All events published: `OK`.", "text"),
            403: Reply("`Webhook verification failed`.", "text"),
            503: Reply(
                "`Publishing integration events failed` (the CRM should deliver it again).",
                "text",
            ),
        },
        errors={400: "A body the adapter cannot read (malformed JSON, wrong shape)."},
    )
)
async def webhook_handler(request: web.Request) -> web.Response:
    """Verify a CRM webhook, turn it into events and publish them; 200 ``OK``, or 503."""
    adapter = request.app[ADAPTER]
    require(adapter, "handle_webhook")
    require(adapter, "verify_webhook_request")
    try:
        if not await adapter.verify_webhook_request(request):
            return text_response("Webhook verification failed", status=403)
        received = await adapter.handle_webhook(request) or []
    except _UNREADABLE_BODY as error:
        # Malformed JSON or the wrong shape: the sender's fault, not ours (no traceback).
        _log.warning("[handleWebhook] Unreadable webhook body: %s", type(error).__name__)
        raise ServerError(400, "Invalid webhook body") from None
    events = [_event(event) for event in received]
    # Bounded by WEBHOOK_PUBLISH_TIMEOUT: a CRM never waits through every retry.
    if not await publish_integration_events(request.app[PUBLISHER], request.app[SETTINGS], events):
        return text_response("Publishing integration events failed", status=503)
    return text_response("OK")
