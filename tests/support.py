"""What the tests share: constants, types and small helpers (import from here, never
from another test module or from ``conftest.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from integration_bridge import Adapter
from integration_bridge.testing import user_headers

__all__ = ["USER_HEADERS", "ClientFactory", "EmptyAdapter", "send_raw"]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
"""``await make_client(adapter, **settings)`` (the ``make_client`` fixture)."""

USER_HEADERS = user_headers(
    user_id="user-1",
    api_key="key-0123456789abcdef",
    api_url="https://crm.example.com",
    locale="de-DE",
)
"""The ``x-*`` headers of one user, made by the shipped test kit."""


class EmptyAdapter(Adapter):
    """Implements nothing: every route answers its 501."""


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
