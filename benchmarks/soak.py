"""Soak: mixed traffic, good and hostile, against one bridge process for a long time.

``python -m benchmarks.soak --duration 600`` starts `SoakBridge` (one process,
memory cache, local publisher) on 127.0.0.1 with `benchmarks.servers`, sends a
bounded mix of reads, writes, streams and bad input (broken headers, ids and
bodies, some on raw sockets) at ``--rate`` requests/s, samples the bridge's RSS
``--samples`` times and prints the RSS curve, the status counts and every 5xx.
The adapter never fails, so any 5xx is the framework's. Exit code 1 when a 5xx
was seen or the process died. Nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from benchmarks.bench_bridge import BenchBridge
from benchmarks.servers import Server, rss_bytes, serve
from integration_bridge import (
    CallEvent,
    CallEventWithIntegrationEntities,
    Config,
    ContactTemplate,
    ContactUpdate,
    IntegrationEntityType,
)

USERS = 100
"""Distinct users (provider keys): the cache fills during the first minute, then stays."""


class SoakBridge(BenchBridge):
    """The bench bridge plus stateless writes, single reads and call logs."""

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        """A contact with the asked id."""
        return {"id": id, "name": "Soak", "phoneNumbers": [{"label": "WORK", "phoneNumber": id}]}

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        """Echo the contact with a new id."""
        return {**contact.model_dump(by_alias=True), "id": f"new-{random.randrange(10**6)}"}

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Any:
        """Echo the contact."""
        return {**contact.model_dump(by_alias=True), "id": id}

    async def delete_contact(self, config: Config, id: str) -> None:
        """Nothing to delete."""

    async def create_or_update_call_log_for_entities(
        self, config: Config, event: CallEventWithIntegrationEntities
    ) -> list[Any]:
        """Every entity logged."""
        return [{**e.model_dump(by_alias=True), "logId": "l1"} for e in event.integration_entities]

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        """A reference."""
        return f"ref-{event.id}"


@dataclass
class Tally:
    """What the traffic got back."""

    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, status: int) -> None:
        """Count one answer."""
        self.statuses[status] += 1
        self.kinds[kind] += 1
        if status >= 500:
            self.server_errors[f"{kind} -> {status}"] += 1


def _headers(user: int) -> dict[str, str]:
    return {
        "x-user-id": f"soak-user-{user}",
        "x-provider-key": f"soak-key-{user}",
        "x-provider-locale": random.choice(["de-DE", "en-US", "en_GB"]),
    }


def _contact_body() -> dict[str, Any]:
    return {
        "firstName": "Ada",
        "lastName": f"L{random.randrange(1000)}",
        "phoneNumbers": [{"label": "WORK", "phoneNumber": f"+49 211 {random.randrange(10**7)}"}],
    }


def _call_body() -> dict[str, Any]:
    return {
        "id": f"call-{random.randrange(10**6)}",
        "startTime": 1_700_000_000_000,
        "direction": "IN",
        "participants": [
            {"type": "local", "phoneNumber": "+4921100000"},
            {"type": "remote", "phoneNumber": f"+49157{random.randrange(10**8)}"},
        ],
        "state": "CONNECTED",
        "integrationEntities": [{"id": "c1", "type": "contacts", "source": "SOAK"}],
    }


Request = tuple[str, str, str, dict[str, str], bytes | None]
"""(kind, method, path, headers, body)."""


def _good(user: int) -> Request:
    headers = _headers(user)
    json_headers = {**headers, "Content-Type": "application/json"}
    pick = random.random()
    if pick < 0.40:
        return "read list", "GET", "/contacts", headers, None
    if pick < 0.50:
        return "read one", "GET", f"/contacts/c{random.randrange(100)}?type=contacts", headers, None
    if pick < 0.60:
        return "create", "POST", "/contacts", json_headers, orjson.dumps(_contact_body())
    if pick < 0.68:
        path = f"/contacts/{user}-{random.randrange(1000)}"
        return "update", "PUT", path, json_headers, orjson.dumps(_contact_body())
    if pick < 0.74:
        return "delete", "DELETE", f"/contacts/{user}-{random.randrange(1000)}", headers, None
    if pick < 0.78:
        return "call event", "POST", "/events/calls", json_headers, orjson.dumps(_call_body())
    if pick < 0.80:
        return "stream", "POST", "/contacts/stream", headers, None
    if pick < 0.90:
        return "call log", "PUT", "/call-log", json_headers, orjson.dumps(_call_body())
    if pick < 0.95:
        return "call event", "POST", "/events/calls", json_headers, orjson.dumps(_call_body())
    return "health", "GET", random.choice(["/health", "/openapi.json"]), {}, None


def _bad(user: int) -> Request:
    headers = _headers(user)
    json_headers = {**headers, "Content-Type": "application/json"}
    bad_ids = ["..", ".", "a%2Fb", "c6%3Fx=1", "x%00y", "%5C", "a%23b", "..%2F..%2Foauth2%2Ftoken"]
    bad_bodies = [b"{", b"[]", b"42", b'{"phoneNumbers": "x"}', b'{"phoneNumbers": [{}]}', b"\xff"]
    pick = random.randrange(9)
    if pick == 0:
        return "bad id", "GET", f"/contacts/{random.choice(bad_ids)}?type=contacts", headers, None
    if pick == 1:
        return "bad id", "DELETE", f"/contacts/{random.choice(bad_ids)}", headers, None
    if pick == 2:
        return "bad body", "POST", "/contacts", json_headers, random.choice(bad_bodies)
    if pick == 3:
        return "bad body", "PUT", "/call-log", json_headers, random.choice(bad_bodies)
    if pick == 4:
        long_number = {"phoneNumbers": [{"label": "WORK", "phoneNumber": "1" * 100_000}]}
        return "long string", "POST", "/contacts", json_headers, orjson.dumps(long_number)
    if pick == 5:
        return "bad type", "GET", "/contacts/c1?type=nonsense", headers, None
    if pick == 6:
        reserved = {**headers, "x-provider-key": f"cache-state:soak-key-{user}"}
        return "reserved key", "GET", "/contacts", reserved, None
    if pick == 7:
        return "unknown route", "GET", f"/nowhere/{random.randrange(10**6)}", headers, None
    return "wrong method", "PATCH", "/contacts", headers, None


def _raw_request(user: int) -> tuple[str, bytes]:
    """Requests an HTTP client library refuses to send: broken bytes on the wire."""
    pick = random.randrange(5)
    if pick == 0:
        return "non-utf8 header", (
            b"GET /contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nx-user-id: u\xff\xfe\r\n"
            b"x-provider-key: soak-key-%d\xc3\r\nConnection: close\r\n\r\n" % user
        )
    if pick == 1:
        return "control char header", (
            b"POST /contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nx-user-id: a\x01b\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
    if pick == 2:
        return "malformed header line", (
            b"GET /contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nx-provider-key soak-secret\r\n"
            b"Connection: close\r\n\r\n"
        )
    if pick == 3:
        return "bad content-encoding", (
            b"POST /contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: 11\r\nConnection: close\r\n\r\nnot gzipped"
        )
    return "hang up mid-body", (
        b"POST /contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 5000\r\nConnection: close\r\n\r\n{"phoneNumbers": ['
    )


async def _send_raw(port: int, kind: str, payload: bytes, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        if kind == "hang up mid-body":
            tally.kinds[kind] += 1  # sent, no answer to count: the client goes away
            return
        line = await asyncio.wait_for(reader.readline(), 10)
        parts = line.split()
        tally.record(kind, int(parts[1]) if len(parts) > 1 else 0)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _one(session: aiohttp.ClientSession, server: Server, tally: Tally) -> None:
    user = random.randrange(USERS)
    pick = random.random()
    try:
        if pick < 0.05:
            kind, payload = _raw_request(user)
            await _send_raw(server.port, kind, payload, tally)
            return
        kind, method, path, headers, body = _good(user) if pick < 0.80 else _bad(user)
        async with session.request(
            method, server.url(path), headers=headers, data=body, skip_auto_headers=["Accept"]
        ) as response:
            await response.read()
            tally.record(kind, response.status)
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        tally.transport_errors[type(error).__name__] += 1


async def _traffic(server: Server, args: argparse.Namespace, tally: Tally) -> list[str]:
    """Send the mix for ``args.duration`` seconds; returns the RSS curve's lines."""
    started = time.monotonic()
    end = started + args.duration
    interval = 1.0 / args.rate
    sample_every = args.duration / args.samples
    curve: list[str] = []

    def sample() -> None:
        elapsed = time.monotonic() - started
        requests = sum(tally.statuses.values())
        server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
        line = (
            f"t={elapsed:6.0f}s  RSS {rss_bytes(server.pid) / 2**20:7.1f} MiB  "
            f"requests {requests:>8,}  5xx {server_errors}"
        )
        curve.append(line)
        print(line, flush=True)

    semaphore = asyncio.Semaphore(args.concurrency)
    pending: set[asyncio.Task[None]] = set()

    async def released(coro: Awaitable[None]) -> None:
        try:
            await coro
        finally:
            semaphore.release()

    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        sample()
        next_sample = started + sample_every
        next_send = started
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                sample()
                next_sample += sample_every
            if now < next_send:
                await asyncio.sleep(next_send - now)
                continue
            next_send = max(next_send + interval, now - 1.0)  # no burst after a stall
            await semaphore.acquire()  # back-pressure: at most --concurrency in flight
            task = asyncio.create_task(released(_one(session, server, tally)))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
    sample()
    return curve


def _alive(pid: int) -> bool:
    try:
        rss_bytes(pid)
    except (OSError, RuntimeError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic (600)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (200)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument("--samples", type=int, default=10, help="RSS samples besides start/end")
    args = parser.parse_args(argv)

    env = {
        "BENCH_CONTACTS": "200",
        "BENCH_STREAM_CONTACTS": "400",
        "BENCH_PAGE_SIZE": "100",
        "CACHE_REFRESH_INTERVAL": "30",
        "PUBSUB_EMULATOR_HOST": "",
    }
    command = ["-m", "integration_bridge", "run", "benchmarks.soak:SoakBridge"]
    tally = Tally()
    with serve([*command, "--host", "127.0.0.1"], env) as server:
        curve = asyncio.run(_traffic(server, args, tally))
        alive = _alive(server.pid)

    total = sum(tally.statuses.values())
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    print()
    print(f"requests answered: {total:,} in {args.duration:.0f} s; process alive: {alive}")
    print("statuses:", ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items())))
    print("kinds:", ", ".join(f"{k}: {n:,}" for k, n in sorted(tally.kinds.items())))
    if tally.transport_errors:
        print("client-side transport errors:", dict(tally.transport_errors))
    print(f"5xx: {server_errors}")
    for what, count in tally.server_errors.most_common():
        print(f"   {what}: {count:,}")
    print(f"RSS start -> end: {curve[0].split('RSS')[1].split('MiB')[0].strip()} MiB -> "
          f"{curve[-1].split('RSS')[1].split('MiB')[0].strip()} MiB")  # fmt: skip
    return 0 if alive and server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
