"""Run a bridge's OAuth2 login the way a browser does: redirect → consent → callback → token.

`oauth2_login` drives a bridge served by a pytest-aiohttp test client (see
`bridge_client`) through the whole authorization-code flow:

1. ``GET /oauth2/redirect`` on the bridge: the authorize URL and the nonce
   cookie the bridge sets;
2. ``GET <authorize URL>`` (the CRM's consent page, e.g. a `FakeCrm`), not
   following its redirect;
3. the redirect's path and query sent to the bridge (``/oauth2/token`` or
   ``/oauth2/callback``) with the nonce cookie, as the browser would.

The nonce cookie is ``Secure``: aiohttp's cookie jar never sends it over
plain ``http://``, which is what the test client speaks, so a test that
relies on the jar sees every callback refused as CSRF. This helper carries
the cookies of step 1 to step 3 itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

__all__ = ["OAuth2Login", "oauth2_login"]


@dataclass
class OAuth2Login:
    """What happened in each step of `oauth2_login`."""

    redirect_url: str
    """The authorize URL the bridge answered on ``/oauth2/redirect``."""
    cookies: dict[str, str]
    """The cookies the bridge set on ``/oauth2/redirect`` (the nonce cookie)."""
    callback_path: str
    """Where the consent page sent the browser back: path and query."""
    status: int
    """The bridge's status for the callback request."""
    body: str
    """The bridge's body for the callback request."""
    location: str | None = None
    """The ``Location`` of a ``/oauth2/callback`` redirect."""
    headers: dict[str, str] = field(default_factory=dict)
    """The bridge's headers for the callback request."""

    @property
    def credentials(self) -> dict[str, Any]:
        """``{"apiKey", "apiUrl"}``: from ``/oauth2/token``'s JSON body or the callback redirect.

        Raises:
            AssertionError: the login did not succeed.
        """
        if self.location is not None:
            query = parse_qs(urlsplit(self.location).query)
            assert "key" in query, f"login failed: redirected to {self.location}"
            return {"apiKey": query["key"][0], "apiUrl": query.get("url", [""])[0]}
        assert self.status == 200, f"login failed: {self.status} {self.body}"
        credentials: dict[str, Any] = json.loads(self.body)
        return credentials

    @property
    def api_key(self) -> str:
        """The new provider key (raises AssertionError when the login failed)."""
        return str(self.credentials["apiKey"])


async def oauth2_login(
    client: TestClient[Any, Any],
    *,
    callback_path: str | None = None,
    send_cookies: bool = True,
    redirect_query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> OAuth2Login:
    """Log in through the bridge's OAuth2 routes and the CRM's consent page.

    Args:
        client: the test client of the bridge (`bridge_client`).
        callback_path: send the code here instead of the path the consent
            page redirected to (e.g. ``"/oauth2/callback"`` when the bridge's
            redirect URI is ``/oauth2/token``).
        send_cookies: False leaves the nonce cookie out, as a forged callback
            from another browser would (the bridge must refuse it).
        redirect_query: query parameters for ``/oauth2/redirect``.
        headers: extra headers for the bridge requests (e.g. `user_headers`).

    Returns:
        Each step's result; `OAuth2Login.credentials` and
        `OAuth2Login.api_key` read the outcome.

    Raises:
        AssertionError: ``/oauth2/redirect`` did not answer a redirect URL,
            or the consent page did not redirect.
    """
    response = await client.get("/oauth2/redirect", params=redirect_query, headers=headers)
    assert response.status == 200, f"/oauth2/redirect: {response.status} {await response.text()}"
    redirect_url = str((await response.json())["redirectUrl"])
    # response.cookies holds every Set-Cookie, Secure ones included; the jar would drop those.
    cookies = {name: morsel.value for name, morsel in response.cookies.items()}
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(redirect_url, allow_redirects=False) as consent,
    ):
        assert consent.status in (301, 302, 303, 307), (
            f"consent page answered {consent.status}, not a redirect: {await consent.text()}"
        )
        back = urlsplit(consent.headers["Location"])
    path = callback_path or back.path
    target = f"{path}?{back.query}" if back.query else path
    request_headers = dict(headers or {})
    if send_cookies and cookies:
        request_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    answer = await client.get(target, headers=request_headers, allow_redirects=False)
    return OAuth2Login(
        redirect_url=redirect_url,
        cookies=cookies,
        callback_path=target,
        status=answer.status,
        body=await answer.text(),
        location=answer.headers.get("Location") if answer.status in (301, 302, 303) else None,
        headers=dict(answer.headers),
    )
