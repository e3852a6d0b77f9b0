"""A bridge for multi-process tests: counts its CRM fetches in Redis."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import redis.asyncio as aioredis

from integration_bridge import Adapter, Config


class CountingBridge(Adapter):
    """``get_contacts`` takes a moment and counts itself under ``fetches:<api key>``."""

    def __init__(self) -> None:
        self.counter = aioredis.from_url(os.environ["COUNTER_REDIS_URL"])

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        await self.counter.incr(f"fetches:{config.api_key}")
        await asyncio.sleep(float(os.environ.get("FETCH_DELAY", "0.3")))
        return [{"id": "1", "firstName": "Ada", "phoneNumbers": []}]
