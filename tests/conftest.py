"""Shared fixtures. Nothing here may reach beyond loopback."""

from __future__ import annotations

import os

# Read at import time by Google's auth library: point it at a closed loopback
# port so that no client ever looks for a metadata server.
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_ROOT", "127.0.0.1:9")

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from integration_bridge import Adapter, Settings, create_app

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]

USER_HEADERS = {
    "x-user-id": "user-1",
    "x-provider-key": "key-0123456789abcdef",
    "x-provider-url": "https://crm.example.com",
    "x-provider-locale": "de-DE",
}


class EmptyAdapter(Adapter):
    """Implements nothing: every route answers its 501."""


@pytest.fixture
def make_client(aiohttp_client: Any) -> ClientFactory:
    """``await make_client(adapter, **settings)``: a test client of a full bridge app."""

    async def make(adapter: Adapter, **settings: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(adapter, settings=Settings(**settings))
        )
        return client

    return make


async def send_raw(client: TestClient[Any, Any], data: bytes) -> tuple[int, bytes]:
    """Send raw bytes to the test server (headers no client would send); (status, body)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
