"""Shared fixtures. Nothing here may reach beyond loopback."""

from __future__ import annotations

import os

# Read at import time by Google's auth library: point it at a closed loopback
# port so that no client ever looks for a metadata server.
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_ROOT", "127.0.0.1:9")

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from integration_bridge import Adapter
from integration_bridge.testing import bridge_client

# Shared names live in tests/support.py; re-exported for tests written before it.
from tests.support import USER_HEADERS, ClientFactory, EmptyAdapter, send_raw

__all__ = ["USER_HEADERS", "ClientFactory", "EmptyAdapter", "make_client", "send_raw"]


@pytest.fixture
def make_client(aiohttp_client: Any) -> ClientFactory:
    """``await make_client(adapter, **settings)``: a test client of a full bridge app."""

    async def make(adapter: Adapter, **settings: Any) -> TestClient[Any, Any]:
        return await bridge_client(aiohttp_client, adapter, **settings)

    return make
