"""POST /contacts/stream through the bundled Pub/Sub emulator."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from benchmarks.report import Report
from benchmarks.servers import BRIDGE_COMMAND, KEY, ROOT, free_port, headers_for, server_env

_TOPIC = "projects/bench/topics/contacts"
_SUBSCRIPTION = "projects/bench/subscriptions/contacts"


async def _stream(total: int) -> tuple[float, float]:
    """(bridge contacts/s, raw publish contacts/s) through the test emulator."""
    import aiohttp
    import orjson
    from gcloud.aio.pubsub import PublisherClient, PubsubMessage

    from examples.fake_crm import generate_contacts
    from integration_bridge.contacts import prepare_contacts
    from integration_bridge.testing.pubsub_emulator import PubSubEmulator

    async with PubSubEmulator() as emulator:
        emulator.create_topic(_TOPIC)
        emulator.create_subscription(_SUBSCRIPTION, _TOPIC)
        port = free_port()
        env = server_env(
            port,
            {
                "PUBSUB_EMULATOR_HOST": emulator.host,
                "INTEGRATION_NAME": "bench",
                "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": _TOPIC,
                "BENCH_STREAM_CONTACTS": str(total),
            },
        )
        # Started without blocking: the emulator runs in this event loop.
        process = await asyncio.create_subprocess_exec(
            sys.executable, *BRIDGE_COMMAND, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(300):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/health") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
                started = time.perf_counter()
                async with session.post(
                    f"http://127.0.0.1:{port}/contacts/stream", headers=headers_for(KEY)
                ) as response:
                    assert response.status == 200
                received = 0
                done = False
                while not done:
                    await asyncio.sleep(0.02)
                    for message in emulator.drain(_SUBSCRIPTION):
                        body = message.json()
                        received += len(body["contacts"])
                        done = done or body["state"] != "IN_PROGRESS"
                elapsed = time.perf_counter() - started
        finally:
            process.terminate()
            await process.wait()
        if received != total:
            raise RuntimeError(f"stream delivered {received} of {total} contacts")
        # Baseline: the same pages validated, sanitized and published one request each.
        client = PublisherClient(api_root=f"http://{emulator.host}/v1", api_is_dev=True)
        started = time.perf_counter()
        for page_number in range(total // 1000):
            page = prepare_contacts(generate_contacts(f"{KEY}:{page_number}", 1000), "de-DE")
            data = orjson.dumps({"contacts": page, "state": "IN_PROGRESS"})
            await client.publish(_TOPIC, [PubsubMessage(data, ordering_key="k")])
        raw = time.perf_counter() - started
        await client.close()
    return total / elapsed, (total // 1000 * 1000) / raw


def scenario_stream(report: Report, args: argparse.Namespace) -> None:
    """``--stream-contacts`` contacts through POST /contacts/stream to the test emulator."""
    ours, raw = asyncio.run(_stream(args.stream_contacts))
    report.add(
        f"contact stream, {args.stream_contacts:,} contacts to the emulator",
        f"{ours:,.0f} contacts/s",
        f"{raw:,.0f} contacts/s",
        f"{ours / raw:.2f}",
        "baseline: same pages sanitized and published one by one, no framework",
    )
