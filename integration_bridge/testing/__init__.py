"""Test kit for bridge authors: whole-bridge clients, a fake CRM, an OAuth2 login, fixtures.

::

    from integration_bridge.testing import FakeCrm, bridge_client, user_headers

    async def test_contacts(aiohttp_client, fake_crm: FakeCrm):
        fake_crm.collection("/api/contacts", [{"id": "1", "name": "Ada"}])
        client = await bridge_client(aiohttp_client, MyBridge())
        headers = user_headers(api_key="token", api_url=fake_crm.url)
        response = await client.get("/contacts", headers=headers)
        assert response.status == 200

* `bridge_client` / `user_headers`: a test client of the full bridge, the
  ``x-*`` headers of one user (``USER_ID_HEADER``, ``API_KEY_HEADER``,
  ``API_URL_HEADER``, ``LOCALE_HEADER`` name them).
* `FakeCrm`: a CRM HTTP API on loopback built per test (routes, paged
  collections, injected 429/5xx, an OAuth2 authorization server).
* `oauth2_login`: redirect → consent → callback → token through the bridge,
  carrying the ``Secure`` nonce cookie that aiohttp's cookie jar drops on
  plain http.
* pytest fixtures (`integration_bridge.testing.plugin`, loaded automatically
  through the ``pytest11`` entry point): ``fake_crm``, ``bridge``,
  ``bridge_adapter`` (name it with `adapter_fixture`), ``bridge_settings``.
* `integration_bridge.testing.pubsub_emulator.PubSubEmulator`: an in-process
  Pub/Sub REST emulator for tests of streams and webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integration_bridge.adapter import Adapter
from integration_bridge.testing.client import (
    API_KEY_HEADER,
    API_URL_HEADER,
    LOCALE_HEADER,
    USER_ID_HEADER,
    bridge_client,
    user_headers,
)
from integration_bridge.testing.fake_crm import Failure, FakeCrm, RecordedRequest
from integration_bridge.testing.oauth2 import OAuth2Login, oauth2_login

__all__ = [
    "API_KEY_HEADER",
    "API_URL_HEADER",
    "LOCALE_HEADER",
    "USER_ID_HEADER",
    "Failure",
    "FakeCrm",
    "OAuth2Login",
    "RecordedRequest",
    "adapter_fixture",
    "bridge_client",
    "oauth2_login",
    "user_headers",
]


def adapter_fixture(factory: Callable[[], Adapter] | Callable[[FakeCrm], Adapter]) -> Any:
    """A ``bridge_adapter`` fixture: ``bridge_adapter = adapter_fixture(MyBridge)`` in conftest.

    Args:
        factory: an `Adapter` subclass or a function making one, called once
            per test; a function with one required argument gets the test's
            started ``fake_crm``.

    Returns:
        The pytest fixture the plugin's ``bridge`` fixture uses.
    """
    from integration_bridge.testing.plugin import adapter_fixture as make

    return make(factory)
