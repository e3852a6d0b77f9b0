"""Phone numbers of large lists parsed in worker processes: the same answers, byte for byte."""

from __future__ import annotations

import asyncio
from typing import Any

from examples.fake_crm import generate_contacts
from integration_bridge import Adapter, Config, phone
from integration_bridge.appkeys import PHONE_POOL
from tests.support import ClientFactory, headers_with


class BigBooks(Adapter):
    """1,000 generated contacts (about 2,000 numbers) per provider key."""

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        return generate_contacts(config.api_key, 1000)


async def _contacts(client: Any, key: str) -> bytes:
    response = await client.get("/contacts", headers=headers_with(api_key=key, locale="en-US"))
    assert response.status == 200
    assert "X-Fetching-State" not in response.headers
    return bytes(await response.read())


async def test_numbers_parsed_by_workers_are_the_in_process_answers(
    make_client: ClientFactory,
) -> None:
    pooled = await make_client(BigBooks(), cache_disabled=True, phone_parse_workers=1)
    pool = pooled.app[PHONE_POOL]
    await _contacts(pooled, "warm-up-key-0")  # starts the workers; parsed in-process meanwhile
    for _ in range(300):
        if pool._ready:
            break
        await asyncio.sleep(0.1)
    assert pool._ready, "worker processes never started"
    submitted = 0
    original = pool._executor.submit

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal submitted
        submitted += 1
        return original(*args, **kwargs)

    pool._executor.submit = counting
    from_workers = await _contacts(pooled, "pooled-key-1")
    assert submitted == 1  # one share went to the worker

    phone._MEMO.clear()  # parsed again, in this process this time
    in_process = await make_client(BigBooks(), cache_disabled=True, phone_parse_workers=0)
    assert from_workers == await _contacts(in_process, "pooled-key-1")
    assert in_process.app[PHONE_POOL]._executor is None


async def test_small_lists_never_start_workers(make_client: ClientFactory) -> None:
    class Small(Adapter):
        async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
            return generate_contacts(config.api_key, 50)

    client = await make_client(Small(), cache_disabled=True, phone_parse_workers=2)
    await _contacts(client, "small-key")
    assert client.app[PHONE_POOL]._starting is None
