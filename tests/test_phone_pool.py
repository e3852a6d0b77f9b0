"""Phone numbers of large lists parsed in worker processes: the same answers, byte for byte."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from examples.fake_crm import generate_contacts
from integration_bridge import Adapter, Config, phone
from integration_bridge.appkeys import PHONE_POOL
from integration_bridge.phone_pool import PhoneParsePool
from tests.support import ClientFactory, headers_with


class BigBooks(Adapter):
    """1,000 generated contacts (about 2,000 numbers) per provider key."""

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        contacts = generate_contacts(config.api_key, 1000)
        if config.api_key.startswith("broken"):
            contacts[-1]["id"] = 1  # not a string: the list is invalid
        return contacts


async def _contacts(client: Any, key: str) -> bytes:
    response = await client.get("/contacts", headers=headers_with(api_key=key, locale="en-US"))
    assert response.status == 200
    assert "X-Fetching-State" not in response.headers
    return bytes(await response.read())


async def _pooled(make_client: ClientFactory) -> tuple[Any, PhoneParsePool]:
    """A bridge whose one parse worker is running (a first large list starts it)."""
    client = await make_client(BigBooks(), cache_disabled=True, phone_parse_workers=1)
    pool = client.app[PHONE_POOL]
    # New numbers start the worker (the memo is the process's); parsed in-process meanwhile.
    await _contacts(client, f"warm-up-{uuid.uuid4()}")
    for _ in range(300):
        if pool.ready:
            return client, pool
        await asyncio.sleep(0.1)
    raise AssertionError("worker processes never started")


@pytest.fixture
def parsed_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The numbers this process parses (the workers run their own, uncounted copy of the code)."""
    numbers: list[str] = []
    original = phone._parse

    def counting(number: str, region: str) -> Any:
        numbers.append(number)
        return original(number, region)

    monkeypatch.setattr(phone, "_parse", counting)
    return numbers


def _numbers(key: str) -> list[str]:
    """The numbers of a user's list, in order."""
    return [
        entry["phoneNumber"]
        for contact in generate_contacts(key, 1000)
        for entry in contact["phoneNumbers"]
    ]


def _kill_workers(pool: PhoneParsePool) -> None:
    executor = pool._executor
    assert executor is not None
    for process in list(executor._processes.values()):
        process.kill()
        process.join()


async def _in_process_answer(make_client: ClientFactory, key: str) -> bytes:
    phone._MEMO.clear()
    in_process = await make_client(BigBooks(), cache_disabled=True, phone_parse_workers=0)
    return await _contacts(in_process, key)


async def test_numbers_parsed_by_workers_are_the_in_process_answers(
    make_client: ClientFactory, parsed_here: list[str]
) -> None:
    pooled, _ = await _pooled(make_client)
    new = phone.unknown_numbers(_numbers("pooled-key-1"), "US")
    parsed_here.clear()
    from_workers = await _contacts(pooled, "pooled-key-1")
    assert len(parsed_here) < len(new)  # the worker took its share

    assert from_workers == await _in_process_answer(make_client, "pooled-key-1")


async def test_this_process_parses_what_a_busy_worker_has_not_taken(
    make_client: ClientFactory, parsed_here: list[str]
) -> None:
    pooled, pool = await _pooled(make_client)
    executor = pool._executor
    assert executor is not None
    # The worker is busy for a while: it takes the list's first two chunks only afterwards.
    executor.submit(time.sleep, 3)
    new = phone.unknown_numbers(_numbers("busy-key"), "US")
    parsed_here.clear()
    answer = await _contacts(pooled, "busy-key")
    assert sorted(parsed_here) == sorted(new[2 * pool.chunk :])
    assert answer == await _in_process_answer(make_client, "busy-key")


async def test_an_invalid_list_with_workers_is_refused_and_the_pool_goes_on(
    make_client: ClientFactory,
) -> None:
    pooled, pool = await _pooled(make_client)
    response = await pooled.get("/contacts", headers=headers_with(api_key="broken-key"))
    assert response.status == 500
    assert (await response.text()).startswith("Invalid contacts received")
    assert pool.ready
    await _contacts(pooled, "after-broken-key")


async def test_a_dead_worker_leaves_parsing_in_process(make_client: ClientFactory) -> None:
    pooled, pool = await _pooled(make_client)
    _kill_workers(pool)
    answer = await _contacts(pooled, "dead-worker-key")
    assert not pool.ready
    assert answer == await _in_process_answer(make_client, "dead-worker-key")


async def test_a_worker_dying_mid_list_leaves_its_chunks_to_this_process(
    make_client: ClientFactory,
) -> None:
    pooled, pool = await _pooled(make_client)
    executor = pool._executor
    assert executor is not None
    executor.submit(time.sleep, 20)  # running: the list's first two chunks wait in the queue
    asyncio.get_running_loop().call_later(1.0, _kill_workers, pool)
    answer = await _contacts(pooled, "dying-worker-key")
    assert not pool.ready
    assert answer == await _in_process_answer(make_client, "dying-worker-key")


async def test_small_lists_never_start_workers(make_client: ClientFactory) -> None:
    class Small(Adapter):
        async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
            return generate_contacts(config.api_key, 50)

    client = await make_client(Small(), cache_disabled=True, phone_parse_workers=2)
    await _contacts(client, "small-key")
    assert client.app[PHONE_POOL]._starting is None
