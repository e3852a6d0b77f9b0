"""The batching publisher against the emulator, through gcloud-aio-pubsub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from gcloud.aio.pubsub import PublisherClient

from integration_bridge.pubsub import BatchingPublisher, OrderingKeyPaused, PublishError
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import CONTACTS_TOPIC, EVENTS_TOPIC, subscription


@pytest.fixture
async def publisher(emulator: PubSubEmulator) -> AsyncIterator[BatchingPublisher]:
    client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
    pub = BatchingPublisher(
        client, max_messages=50, linger=0.005, initial_backoff=0.01, max_backoff=0.05
    )
    yield pub
    await pub.close()


def payloads(emulator: PubSubEmulator, topic: str = CONTACTS_TOPIC) -> list[object]:
    return [message.json() for message in emulator.drain(subscription(topic))]


async def test_order_is_kept_across_batches(
    emulator: PubSubEmulator, publisher: BatchingPublisher
) -> None:
    futures = [publisher.submit(CONTACTS_TOPIC, {"n": n}, "user:1") for n in range(500)]
    ids = await asyncio.gather(*futures)
    assert len(set(ids)) == 500
    assert payloads(emulator) == [{"n": n} for n in range(500)]
    assert len(emulator.publish_requests) >= 10  # batched, 50 at most per request
    assert all(r.message_count <= 50 for r in emulator.publish_requests)


async def test_keys_interleave_but_each_keeps_its_order(
    emulator: PubSubEmulator, publisher: BatchingPublisher
) -> None:
    futures = [
        publisher.submit(CONTACTS_TOPIC, {"key": key, "n": n}, key)
        for n in range(100)
        for key in ("a", "b", "c")
    ]
    await asyncio.gather(*futures)
    received = payloads(emulator)
    for key in ("a", "b", "c"):
        assert [m["n"] for m in received if m["key"] == key] == list(range(100))  # type: ignore[index]


async def test_batches_stay_under_the_byte_limit(emulator: PubSubEmulator) -> None:
    client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
    publisher = BatchingPublisher(client, max_bytes=50_000, linger=0.01)
    try:
        blob = "x" * 10_000
        await asyncio.gather(
            *(publisher.submit(CONTACTS_TOPIC, {"b": blob}, "k") for _ in range(30))
        )
    finally:
        await publisher.close()
    assert len(payloads(emulator)) == 30
    assert len(emulator.publish_requests) >= 7
    assert all(r.body_bytes <= 50_000 for r in emulator.publish_requests)


async def test_oversized_message_is_refused(publisher: BatchingPublisher) -> None:
    with pytest.raises(PublishError):
        await publisher.publish(CONTACTS_TOPIC, b"x" * 9_000_000, "k")


async def test_retries_injected_503s_without_losing_or_reordering(
    emulator: PubSubEmulator, publisher: BatchingPublisher
) -> None:
    emulator.fail_next_publishes(3, status=503)
    await asyncio.gather(*(publisher.submit(CONTACTS_TOPIC, {"n": n}, "k") for n in range(120)))
    assert emulator.rejected_requests == 3
    assert payloads(emulator) == [{"n": n} for n in range(120)]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 504])
async def test_other_retryable_statuses(
    emulator: PubSubEmulator, publisher: BatchingPublisher, status: int
) -> None:
    emulator.fail_next_publishes(1, status=status)
    await publisher.publish(CONTACTS_TOPIC, {"n": 1}, "k")
    assert payloads(emulator) == [{"n": 1}]


async def test_dropped_connections_are_retried(
    emulator: PubSubEmulator, publisher: BatchingPublisher
) -> None:
    emulator.drop_next_publishes(2)
    await asyncio.gather(*(publisher.submit(CONTACTS_TOPIC, {"n": n}, "k") for n in range(60)))
    assert emulator.rejected_requests == 2
    received = payloads(emulator)
    # At least once: nothing lost; a retried batch may arrive twice, in order.
    first_seen = list(dict.fromkeys(orjson.dumps(m) for m in received))
    assert [orjson.loads(m) for m in first_seen] == [{"n": n} for n in range(60)]


async def test_final_failure_pauses_the_key_until_resumed(
    emulator: PubSubEmulator, publisher: BatchingPublisher
) -> None:
    emulator.fail_next_publishes(1, status=400)  # not retryable
    with pytest.raises(PublishError) as info:
        await publisher.publish(CONTACTS_TOPIC, {"n": 1}, "k")
    assert not isinstance(info.value, OrderingKeyPaused)
    with pytest.raises(OrderingKeyPaused):
        await publisher.publish(CONTACTS_TOPIC, {"n": 2}, "k")
    await publisher.publish(CONTACTS_TOPIC, {"other": 1}, "other-key")  # unaffected
    publisher.resume(CONTACTS_TOPIC, "k")
    await publisher.publish(CONTACTS_TOPIC, {"n": 3}, "k")
    assert payloads(emulator) == [{"other": 1}, {"n": 3}]


async def test_retry_deadline_ends_in_a_reported_failure(emulator: PubSubEmulator) -> None:
    client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
    publisher = BatchingPublisher(
        client, retry_deadline=0.3, initial_backoff=0.05, max_backoff=0.1, linger=0
    )
    emulator.fail_every(1, status=503)
    try:
        with pytest.raises(PublishError):
            await publisher.publish(EVENTS_TOPIC, {"n": 1})
    finally:
        emulator.fail_every(0)
        await publisher.close()
    assert emulator.rejected_requests >= 2


async def test_unknown_topic_is_a_failure(publisher: BatchingPublisher) -> None:
    with pytest.raises(PublishError):
        await publisher.publish("projects/test-project/topics/missing", {"n": 1})


async def test_close_with_pubsub_down_is_bounded_and_reports_what_was_not_published(
    emulator: PubSubEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_every(1, status=503)  # Pub/Sub down: every publish is retried
    client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
    publisher = BatchingPublisher(client, linger=0.005, initial_backoff=0.05, max_backoff=0.1)
    futures = [publisher.submit(CONTACTS_TOPIC, {"n": n}, "user:1") for n in range(5)]
    futures += [publisher.submit(EVENTS_TOPIC, {"n": n}) for n in range(3)]
    await asyncio.sleep(0.2)  # the lanes are retrying now
    loop = asyncio.get_running_loop()
    started = loop.time()
    await publisher.close(timeout=0.3)
    assert loop.time() - started < 5  # not the 60 s retry deadline
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(result, PublishError) for result in results)  # none dropped silently
    assert publisher.failed == 8
    lines = [r.getMessage() for r in caplog.records if "not published" in r.getMessage()]
    assert len(lines) == 1
    assert "8 message(s) on 2 ordering key(s)" in lines[0]
    assert CONTACTS_TOPIC in lines[0] and EVENTS_TOPIC in lines[0]


async def test_close_without_a_bound_still_flushes_everything(emulator: PubSubEmulator) -> None:
    client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
    publisher = BatchingPublisher(client, linger=0.05)
    futures = [publisher.submit(CONTACTS_TOPIC, {"n": n}, "k") for n in range(20)]
    await publisher.close(timeout=5)
    assert all(isinstance(f.result(), str) for f in futures)
    assert payloads(emulator) == [{"n": n} for n in range(20)]
