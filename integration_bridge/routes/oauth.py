"""The OAuth2 redirect, callback and token routes."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from aiohttp import web

from integration_bridge.adapter import require
from integration_bridge.appkeys import ADAPTER, SETTINGS
from integration_bridge.errors import ServerError
from integration_bridge.models import OAuth2Credentials
from integration_bridge.models.responses import OAuth2RedirectUrl, OAuth2Token
from integration_bridge.openapi import Operation, Reply, documented
from integration_bridge.responses import JSON_CONTENT_TYPE, json_bytes
from integration_bridge.validation import parse_as

__all__ = ["callback_location", "routes"]

routes = web.RouteTableDef()

_log = logging.getLogger("integration_bridge.oauth2")

# What JavaScript's encodeURIComponent (and so node's querystring) leaves as is.
_URI_COMPONENT_SAFE = "-_.!~*'()"


def callback_location(redirect_url: str, identifier: str | None, creds: OAuth2Credentials) -> str:
    """``<redirect_url>?name=...&key=...&url=...`` encoded as the original does."""
    query = urlencode(
        {"name": identifier or "UNKNOWN", "key": creds.api_key, "url": creds.api_url},
        quote_via=quote,
        safe=_URI_COMPONENT_SAFE,
    )
    return f"{redirect_url}?{query}"


def _credentials(value: object) -> OAuth2Credentials:
    return parse_as(
        OAuth2Credentials, value, status=500, message="Invalid OAuth2 credentials from bridge"
    )


@routes.get("/oauth2/redirect")
@documented(
    Operation(
        summary="Where to send the user to log in to the CRM (may set a nonce cookie).",
        adapter_method="get_oauth2_redirect_url",
        config=False,
        tag="oauth2",
        replies={200: Reply("The CRM's authorize URL.", "json", OAuth2RedirectUrl)},
    )
)
async def redirect_url(request: web.Request) -> web.Response:
    """``{"redirectUrl": ...}``; the adapter may set a nonce cookie on the answer."""
    adapter = request.app[ADAPTER]
    require(adapter, "get_oauth2_redirect_url")
    response = web.Response(content_type="application/json", charset="utf-8")
    url = await adapter.get_oauth2_redirect_url(request, response)
    response.body = json_bytes({"redirectUrl": url})
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    return response


@routes.get("/oauth2/callback")
@documented(
    Operation(
        summary="The CRM's redirect after login: on to `OAUTH2_REDIRECT_URL`.",
        adapter_method="handle_oauth2_callback",
        config=False,
        tag="oauth2",
        replies={
            302: Reply(
                "To `OAUTH2_REDIRECT_URL?name=...&key=...&url=...`, or without the query when "
                "the login failed.",
                headers=("Location",),
            )
        },
        errors={500: "`OAuth2 Redirect URL not configured!`, or the bridge failed."},
    )
)
async def callback(request: web.Request) -> web.Response:
    """302 to ``OAUTH2_REDIRECT_URL`` with the credentials, or without them on failure."""
    adapter = request.app[ADAPTER]
    require(adapter, "handle_oauth2_callback")
    settings = request.app[SETTINGS]
    target = settings.oauth2_redirect_url
    if not target:
        raise ServerError(500, "OAuth2 Redirect URL not configured!")
    response = web.Response(status=302)
    try:
        creds = _credentials(await adapter.handle_oauth2_callback(request, response))
    except Exception as error:
        # ServerError messages of the OAuth2 helpers say why and never hold a secret.
        reason = error.message if isinstance(error, ServerError) else type(error).__name__
        _log.warning("[handleOAuth2Callback] OAuth2 callback failed: %s", reason)
        response.headers["Location"] = target
        return response
    response.headers["Location"] = callback_location(target, settings.oauth2_identifier, creds)
    return response


@routes.get("/oauth2/token")
@documented(
    Operation(
        summary="The login's provider key and API URL as JSON.",
        adapter_method="handle_oauth2_callback",
        config=False,
        tag="oauth2",
        replies={200: Reply("The credentials.", "json", OAuth2Token)},
        errors={
            401: "The login failed: missing, forged or expired state or nonce cookie.",
            403: "The CRM refused the login.",
        },
    )
)
async def token(request: web.Request) -> web.Response:
    """``{"apiKey": ..., "apiUrl": ...}`` from the adapter's callback handling."""
    adapter = request.app[ADAPTER]
    require(adapter, "handle_oauth2_callback")
    response = web.Response(content_type="application/json", charset="utf-8")
    creds = _credentials(await adapter.handle_oauth2_callback(request, response))
    response.body = json_bytes({"apiKey": creds.api_key, "apiUrl": creds.api_url})
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    return response
