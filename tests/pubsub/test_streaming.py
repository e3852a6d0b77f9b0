"""POST /contacts/stream end to end: the app, the publisher, the emulator, the limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from integration_bridge import Adapter, Config, Settings, SettingsError, create_app
from integration_bridge.appkeys import SETTINGS, STREAMER
from integration_bridge.pubsub import streaming
from integration_bridge.testing.pubsub_emulator import PubSubEmulator
from tests.support import (
    CONTACTS_TOPIC,
    MIRROR_TOPIC,
    USER_HEADERS,
    headers_with,
    pubsub_settings,
    subscription,
)


def contact(id: str, number: str = "+49 157 12345678") -> dict[str, Any]:
    return {
        "id": id,
        "firstName": "Ada",
        "phoneNumbers": [{"label": "WORK", "phoneNumber": number}],
    }


class StreamingAdapter(Adapter):
    def __init__(self, batches: list[Any], fail_at_end: bool = False, delay: float = 0) -> None:
        self.batches = batches
        self.fail_at_end = fail_at_end
        self.delay = delay

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[Any]]:
        for batch in self.batches:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield batch
        if self.fail_at_end:
            raise RuntimeError("CRM went away")


async def stream(
    aiohttp_client: Any, emulator: PubSubEmulator, adapter: Adapter, **settings: Any
) -> tuple[Any, int]:
    client = await aiohttp_client(
        create_app(adapter, settings=pubsub_settings(emulator, **settings))
    )
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    body = await response.json()
    return client, body["timestamp"]


async def messages(
    emulator: PubSubEmulator, topic: str = CONTACTS_TOPIC, count: int = 1
) -> list[Any]:
    """Wait until a terminal state arrived, then return every message."""
    received: list[Any] = []
    for _ in range(400):
        received += [m for m in emulator.drain(subscription(topic))]
        if sum(m.json()["state"] != "IN_PROGRESS" for m in received) >= count:
            return received
        await asyncio.sleep(0.01)
    raise AssertionError(f"no terminal state; got {[m.json()['state'] for m in received]}")


async def test_stream_publishes_batches_then_complete(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = StreamingAdapter([[contact("1"), contact("2")], [], [contact("3", "12")]])
    _, timestamp = await stream(aiohttp_client, emulator, adapter)
    received = await messages(emulator)
    bodies = [m.json() for m in received]
    assert [b["state"] for b in bodies] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    assert {m.ordering_key for m in received} == {f"user-1:{timestamp}"}
    assert all(b["timestamp"] == timestamp for b in bodies)
    assert all(b["userId"] == "user-1" and b["integrationName"] == "test-bridge" for b in bodies)
    assert [c["id"] for c in bodies[0]["contacts"]] == ["1", "2"]
    first = bodies[0]["contacts"][0]
    assert first["name"] == "Ada"
    assert first["phoneNumbers"][0]["e164"] == "+4915712345678"
    assert bodies[1]["contacts"][0]["phoneNumbers"][0]["type"] == "DIRECT_DIAL"
    assert bodies[2]["contacts"] == []


async def test_failing_generator_ends_with_failed(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = StreamingAdapter([[contact("1")]], fail_at_end=True)
    await stream(aiohttp_client, emulator, adapter)
    states = [m.json()["state"] for m in await messages(emulator)]
    assert states == ["IN_PROGRESS", "FAILED"]


async def test_invalid_batch_is_skipped(aiohttp_client: Any, emulator: PubSubEmulator) -> None:
    adapter = StreamingAdapter([[contact("1")], [{"id": "no numbers"}], [contact("3")]])
    await stream(aiohttp_client, emulator, adapter)
    bodies = [m.json() for m in await messages(emulator)]
    assert [b["state"] for b in bodies] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    assert [b["contacts"][0]["id"] for b in bodies[:2]] == ["1", "3"]


async def test_large_batch_is_split(aiohttp_client: Any, emulator: PubSubEmulator) -> None:
    batch = [contact(str(n)) for n in range(300)]
    client = await aiohttp_client(
        create_app(StreamingAdapter([batch]), settings=pubsub_settings(emulator))
    )
    client.app[STREAMER].max_message_bytes = 20_000
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    received = await messages(emulator)
    bodies = [m.json() for m in received]
    assert len(bodies) > 3
    assert bodies[-1]["state"] == "COMPLETE"
    ids = [c["id"] for b in bodies[:-1] for c in b["contacts"]]
    assert ids == [str(n) for n in range(300)]
    # Whole messages (the envelope included) stay under the limit, and chunks are filled.
    sizes = [len(m.data) for m in received[:-1]]
    assert max(sizes) <= 20_000
    largest = max(len(orjson.dumps(c)) + 1 for b in bodies[:-1] for c in b["contacts"])
    assert min(sizes[:-1]) > 20_000 - largest


async def test_additional_topic_mirrors_every_message(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = StreamingAdapter([[contact("1")]])
    await stream(aiohttp_client, emulator, adapter, pubsub_additional_topic_name=MIRROR_TOPIC)
    main = [m.json() for m in await messages(emulator)]
    mirror = [m.json() for m in await messages(emulator, MIRROR_TOPIC)]
    assert main == mirror and len(main) == 2


async def test_mirror_failures_never_fail_the_stream(
    aiohttp_client: Any, emulator: PubSubEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next_publishes(100, status=403, topic=MIRROR_TOPIC)
    adapter = StreamingAdapter([[contact("1")], [contact("2")]], delay=0.02)
    await stream(aiohttp_client, emulator, adapter, pubsub_additional_topic_name=MIRROR_TOPIC)
    main = [m.json() for m in await messages(emulator)]
    assert [b["state"] for b in main] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    assert emulator.drain(subscription(MIRROR_TOPIC)) == []
    for _ in range(400):  # the mirror's report is written after the stream's last message
        if any(
            r.name == "integration_bridge.stream"
            for r in caplog.records
            if r.levelname == "WARNING"
        ):
            break
        await asyncio.sleep(0.01)
    mirror_lines = [
        r
        for r in caplog.records
        if r.name == "integration_bridge.stream" and "mirror" in r.getMessage().lower()
    ]
    assert [r.levelname for r in mirror_lines] == ["ERROR", "WARNING"]
    assert MIRROR_TOPIC in mirror_lines[0].getMessage()
    assert "3 message(s)" in mirror_lines[1].getMessage()


async def test_mirror_that_lost_a_message_ends_failed(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    emulator.fail_next_publishes(1, status=403, topic=MIRROR_TOPIC)
    adapter = StreamingAdapter([[contact("1")], [contact("2")]], delay=0.02)
    await stream(aiohttp_client, emulator, adapter, pubsub_additional_topic_name=MIRROR_TOPIC)
    main = [m.json() for m in await messages(emulator)]
    assert [b["state"] for b in main] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    mirror = [m.json() for m in await messages(emulator, MIRROR_TOPIC)]
    # The key is paused on the mirror after its failure, so it gets no more contacts,
    # and it is not told that the stream was complete.
    assert [b["state"] for b in mirror] == ["FAILED"]


async def test_publish_retries_keep_the_stream_whole(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    batches = [[contact(f"{b}-{n}") for n in range(50)] for b in range(20)]
    emulator.fail_every(2, status=503)
    await stream(aiohttp_client, emulator, StreamingAdapter(batches, delay=0.02))
    bodies = [m.json() for m in await messages(emulator)]
    emulator.fail_every(0)
    assert emulator.rejected_requests >= 3
    assert [b["state"] for b in bodies].count("COMPLETE") == 1
    assert bodies[-1]["state"] == "COMPLETE"
    ids = [c["id"] for b in bodies[:-1] for c in b["contacts"]]
    assert ids == [f"{b}-{n}" for b in range(20) for n in range(50)]


async def test_missing_user_id_is_400(aiohttp_client: Any, emulator: PubSubEmulator) -> None:
    client = await aiohttp_client(
        create_app(StreamingAdapter([]), settings=pubsub_settings(emulator))
    )
    response = await client.post("/contacts/stream", headers=headers_with(user_id=None))
    assert response.status == 400
    assert await response.text() == "Missing user ID"


async def test_shutdown_drains_running_streams_and_fails_cut_ones(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    slow = StreamingAdapter([[contact(str(n))] for n in range(100)], delay=0.05)
    client, _ = await stream(aiohttp_client, emulator, slow, shutdown_timeout=0.2)
    await client.close()  # runs the app's cleanup: drain for 0.2 s, then cut
    received = emulator.drain(subscription(CONTACTS_TOPIC))
    states = [m.json()["state"] for m in received]
    assert states[-1] == "FAILED"
    assert states.count("FAILED") == 1 and "COMPLETE" not in states
    assert 0 < states.count("IN_PROGRESS") < 100


async def test_no_new_streams_while_shutting_down(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    client = await aiohttp_client(
        create_app(StreamingAdapter([]), settings=pubsub_settings(emulator))
    )
    await client.app[STREAMER].shutdown(0)
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 503


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("integration_name", "INTEGRATION_NAME"),
        ("pubsub_topic_name_contact_streaming", "PUBSUB_TOPIC_NAME_CONTACT_STREAMING"),
    ],
)
def test_real_pubsub_needs_names(emulator: PubSubEmulator, missing: str, variable: str) -> None:
    with pytest.raises(SettingsError) as info:
        create_app(StreamingAdapter([]), settings=pubsub_settings(emulator, **{missing: None}))
    assert info.value.variable == variable


def test_local_publisher_fills_defaults(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="integration_bridge.pubsub"):
        app = create_app(StreamingAdapter([]), settings=Settings())
    settings = app[SETTINGS]
    assert settings.integration_name == "integration-bridge"
    assert settings.pubsub_topic_name_contact_streaming == "contact-streaming"
    assert settings.pubsub_topic_name_integration_events == "integration-events"
    assert settings.pubsub_topic_name_update_provider_key == "provider-key-updates"
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "INTEGRATION_NAME" in warning and "PUBSUB_TOPIC_NAME_CONTACT_STREAMING" in warning


def test_local_publisher_keeps_names_that_are_set() -> None:
    given = Settings(integration_name="mine", pubsub_topic_name_contact_streaming="my-topic")
    settings = create_app(StreamingAdapter([]), settings=given)[SETTINGS]
    assert settings.integration_name == "mine"
    assert settings.pubsub_topic_name_contact_streaming == "my-topic"


@pytest.mark.parametrize(
    ("sent", "carried"),
    [
        (
            {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        ),
        (
            {
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                "tracestate": "vendor=abc",
            },
            {
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                "tracestate": "vendor=abc",
            },
        ),
        ({}, {}),
        ({"traceparent": "00-not-a-trace-01", "tracestate": "vendor=abc"}, {}),
        ({"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"}, {}),
    ],
)
async def test_without_tracing_the_callers_trace_context_is_passed_on(
    aiohttp_client: Any,
    emulator: PubSubEmulator,
    sent: dict[str, str],
    carried: dict[str, str],
) -> None:
    client = await aiohttp_client(
        create_app(StreamingAdapter([[contact("1")]]), settings=pubsub_settings(emulator))
    )
    response = await client.post("/contacts/stream", headers={**USER_HEADERS, **sent})
    assert response.status == 200
    received = await messages(emulator)
    assert [m.json()["state"] for m in received] == ["IN_PROGRESS", "COMPLETE"]
    for message in received:
        assert {k: v for k, v in message.json().items() if k.startswith("trace")} == carried
        assert message.attributes == carried


async def test_shutdown_with_pubsub_down_ends_within_shutdown_timeout(
    aiohttp_client: Any, emulator: PubSubEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = StreamingAdapter([[contact(str(n))] for n in range(3)])
    client = await aiohttp_client(
        create_app(
            adapter,
            settings=pubsub_settings(emulator, shutdown_timeout=1.5, pubsub_publish_timeout=1),
        )
    )
    emulator.fail_every(1, status=503)  # Pub/Sub goes down before the stream publishes
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.close()  # the app's cleanup: streams, then the publisher's flush
    # SHUTDOWN_TIMEOUT, a cut stream's wait for its final state, and 1 s for the flush
    assert loop.time() - started < 1.5 + 2 + 1 + 2.5
    lines = [r.getMessage() for r in caplog.records if "not published" in r.getMessage()]
    assert len(lines) == 1 and "message(s) on 1 ordering key(s)" in lines[0]
    assert not emulator.drain(subscription(CONTACTS_TOPIC))


class CountingAdapter(Adapter):
    """Yields ``total`` one-contact batches and counts how many the stream has taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[Any]]:
        for i in range(self.total):
            self.taken += 1
            yield [contact(f"c{i}")]


async def test_a_slow_pubsub_holds_the_generator_at_the_bound_of_batches_in_flight(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = CountingAdapter(total=400)
    emulator.hold_publishes()
    client, _ = await stream(aiohttp_client, emulator, adapter)
    bound = client.app[STREAMER].max_in_flight
    for _ in range(100):  # the generator runs until the bound stops it
        await asyncio.sleep(0.01)
    taken_while_held = adapter.taken
    emulator.release_publishes()

    # One batch past the bound is taken before the stream waits for the oldest.
    assert bound < taken_while_held <= bound + 2
    received = await messages(emulator)
    assert adapter.taken == 400
    assert sum(len(m.json()["contacts"]) for m in received) == 400


async def test_streams_of_one_user_started_in_one_millisecond_get_their_own_keys(
    aiohttp_client: Any, emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream's clock stands still: every start falls in one millisecond.
    monkeypatch.setattr(streaming, "time", SimpleNamespace(time=lambda: 1_700_000_000.0))
    adapter = StreamingAdapter([[contact("1")]])
    client, first = await stream(aiohttp_client, emulator, adapter)
    first_messages = await messages(emulator)  # the first stream has ended
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    second = (await response.json())["timestamp"]
    second_messages = await messages(emulator)

    assert first != second
    assert {m.ordering_key for m in first_messages} == {f"user-1:{first}"}
    assert {m.ordering_key for m in second_messages} == {f"user-1:{second}"}
    assert {m.json()["timestamp"] for m in second_messages} == {second}


# --- Stream spam: one running stream per user, a process-wide cap, 429 past it.


class Gated(Adapter):
    """Streams one batch per user, then waits for ``release``; counts started streams."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[Any]]:
        self.started.append(config.user_id)
        yield [{"id": "1", "phoneNumbers": []}]
        await self.release.wait()


async def test_two_hundred_posts_for_one_user_start_one_stream(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = Gated()
    client = await aiohttp_client(create_app(adapter, settings=pubsub_settings(emulator)))
    responses = await asyncio.gather(
        *(client.post("/contacts/stream", headers=USER_HEADERS) for _ in range(200))
    )
    assert {response.status for response in responses} == {200}
    timestamps = {(await response.json())["timestamp"] for response in responses}
    assert len(timestamps) == 1
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-1"]
    # Once it ended, the user can stream again.
    adapter.release.set()
    await _drained(client)
    adapter.release = asyncio.Event()
    response = await client.post("/contacts/stream", headers=USER_HEADERS)
    assert response.status == 200
    assert (await response.json())["timestamp"] not in timestamps
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-1", "user-1"]
    adapter.release.set()
    await _drained(client)


def _running(client: Any) -> int:
    return int(client.app[STREAMER].running)


async def _drained(client: Any) -> None:
    """Wait until no stream runs (before the emulator goes away at teardown)."""
    for _ in range(500):
        if _running(client) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("streams still running")


async def test_process_wide_cap_answers_429_with_retry_after(
    aiohttp_client: Any, emulator: PubSubEmulator
) -> None:
    adapter = Gated()
    client = await aiohttp_client(
        create_app(adapter, settings=pubsub_settings(emulator, stream_max_concurrent=3))
    )
    statuses = []
    for user in range(5):
        response = await client.post(
            "/contacts/stream", headers=headers_with(user_id=f"user-{user}")
        )
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) > 0
            assert response.content_type == "text/plain"
    assert statuses == [200, 200, 200, 429, 429]
    await asyncio.sleep(0.05)
    assert adapter.started == ["user-0", "user-1", "user-2"]
    # A user whose stream runs still gets its timestamp, not 429.
    response = await client.post("/contacts/stream", headers=headers_with(user_id="user-1"))
    assert response.status == 200
    adapter.release.set()
    await _drained(client)
    response = await client.post("/contacts/stream", headers=headers_with(user_id="user-4"))
    assert response.status == 200
    await _drained(client)
