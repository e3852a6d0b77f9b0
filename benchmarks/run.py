"""Run the benchmark scenarios and print a table with ratios against a same-run baseline.

``python -m benchmarks.run`` (``--help`` for options). Every server is started
on 127.0.0.1 by this script and stopped at the end; nothing else is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.driver import LoadResult, drive

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-0"


@dataclass
class Row:
    """One line of the result table."""

    scenario: str
    value: str
    baseline: str
    ratio: str
    note: str = ""


@dataclass
class Report:
    """The table being built."""

    rows: list[Row] = field(default_factory=list)

    def add(self, scenario: str, value: str, baseline: str, ratio: str, note: str = "") -> None:
        """Add and print a row at once (long runs show progress)."""
        row = Row(scenario, value, baseline, ratio, note)
        self.rows.append(row)
        print(f"  {scenario}: {value} (baseline {baseline}, ratio {ratio}) {note}", flush=True)

    def markdown(self) -> str:
        """The table as Markdown."""
        lines = [
            "| scenario | bridge | baseline | ratio | note |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        lines += [
            f"| {r.scenario} | {r.value} | {r.baseline} | {r.ratio} | {r.note} |" for r in self.rows
        ]
        return "\n".join(lines)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """A blocking GET on loopback."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read(), dict(response.headers)


def wait_healthy(port: int, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    """Block until ``/health`` answers."""
    end = time.monotonic() + deadline
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            get(f"http://127.0.0.1:{port}/health")
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@contextmanager
def server(command: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """Start a server process on a free port; yields (port, pid)."""
    port = free_port()
    full_env = {
        **os.environ,
        "LOG_LEVEL": "ERROR",
        "PORT": str(port),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, *[part.replace("{port}", str(port)) for part in command]],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bridge(env: dict[str, str] | None = None, workers: int = 1) -> Callable[[], object]:
    """A bench bridge server (context manager factory)."""
    command = ["-m", "integration_bridge", "run", "benchmarks.bench_bridge:BenchBridge"]
    command += ["--host", "127.0.0.1", "--workers", str(workers)]
    base = {"CACHE_REFRESH_INTERVAL": "86400", "PUBSUB_EMULATOR_HOST": ""}
    return lambda: server(command, {**base, **(env or {})})


def baseline(contacts: int) -> Callable[[], object]:
    """The bare aiohttp server."""
    return lambda: server(
        ["-m", "benchmarks.baseline", "--port", "{port}", "--contacts", str(contacts)]
    )


def headers_for(key: str, gzip: bool = False) -> dict[str, str]:
    """Request headers of one user."""
    headers = {"x-user-id": "bench", "x-provider-key": key, "x-provider-locale": "de-DE"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    return headers


def warm(port: int, key: str = KEY) -> int:
    """Request a user's contacts until they are cached; returns the body size."""
    for _ in range(600):
        _, body, headers = get(f"http://127.0.0.1:{port}/contacts", headers_for(key))
        if headers.get("X-Fetching-State") != "pending":
            return len(body)
        time.sleep(0.05)
    raise RuntimeError("contacts never got cached")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def fmt_load(result: LoadResult) -> str:
    """``12,345 req/s (p50 1.2 ms, p99 3.4 ms)``."""
    errors = f", {result.errors} errors" if result.errors else ""
    return (
        f"{result.requests_per_second:,.0f} req/s "
        f"(p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms{errors})"
    )


def load_pair(
    report: Report,
    scenario: str,
    bridge_url: str,
    baseline_url: str,
    args: argparse.Namespace,
    headers: dict[str, str],
) -> LoadResult:
    """Drive the bridge and the baseline alike and report the ratio."""
    ours = drive(bridge_url, seconds=args.seconds, connections=args.connections, headers=headers)
    ceiling = drive(
        baseline_url, seconds=args.seconds, connections=args.connections, headers=headers
    )
    report.add(
        scenario,
        fmt_load(ours),
        fmt_load(ceiling),
        f"{ours.requests_per_second / ceiling.requests_per_second:.2f}",
        f"driver: {ours.tool}",
    )
    return ours


def scenario_serving(report: Report, args: argparse.Namespace, contacts: int) -> None:
    """/health, and cached /contacts identity and gzip, against the bare server."""
    with (
        bridge({"BENCH_CONTACTS": str(contacts)})() as (port, _),
        baseline(contacts)() as (
            base,
            _,
        ),
    ):
        size = warm(port)
        suffix = f"{contacts:,} contacts, {size / 1024:.0f} KB"
        if contacts == 1000:
            load_pair(
                report,
                "GET /health",
                f"http://127.0.0.1:{port}/health",
                f"http://127.0.0.1:{base}/health",
                args,
                {},
            )
        load_pair(
            report,
            f"GET /contacts cached ({suffix})",
            f"http://127.0.0.1:{port}/contacts",
            f"http://127.0.0.1:{base}/contacts",
            args,
            headers_for(KEY),
        )
        if contacts == 1000:
            load_pair(
                report,
                f"GET /contacts cached gzip ({suffix})",
                f"http://127.0.0.1:{port}/contacts",
                f"http://127.0.0.1:{base}/contacts",
                args,
                headers_for(KEY, gzip=True),
            )


def scenario_memory(report: Report, args: argparse.Namespace) -> None:
    """RSS per cached contact for ``--users`` users x 1,000 contacts."""
    users = args.users
    with bridge({"BENCH_CONTACTS": "1000"})() as (port, pid):
        json_size = warm(port, "warm-up-user")
        before = rss_bytes(pid)
        for index in range(users):
            warm(port, f"user-{index}")
        after = rss_bytes(pid)
    per_contact = (after - before) / (users * 1000)
    json_per_contact = json_size / 1000
    report.add(
        f"memory, {users} users x 1,000 contacts cached",
        f"{per_contact:,.0f} B/contact (RSS +{(after - before) / 2**20:,.1f} MiB)",
        f"{json_per_contact:,.0f} B/contact of JSON",
        f"{per_contact / json_per_contact:.2f}",
        "RSS growth / contacts; baseline = the list's JSON size",
    )


def scenario_cold_fetch(report: Report, args: argparse.Namespace) -> None:
    """GET /contacts with the cache off: fetch, validate, sanitize 1,000 contacts."""
    samples: list[float] = []
    served: list[float] = []
    with bridge({"BENCH_CONTACTS": "1000", "CACHE_DISABLED": "true"})() as (port, _):
        for index in range(args.cold_samples):
            started = time.perf_counter()
            get(f"http://127.0.0.1:{port}/contacts", headers_for(f"cold-{index}"))
            samples.append((time.perf_counter() - started) * 1000)
    with baseline(1000)() as (base, _):
        for _ in range(args.cold_samples):
            started = time.perf_counter()
            get(f"http://127.0.0.1:{base}/contacts", headers_for(KEY))
            served.append((time.perf_counter() - started) * 1000)
    ours, ceiling = statistics.median(samples), statistics.median(served)
    report.add(
        "cold fetch + sanitize, 1,000 contacts",
        f"{ours:.1f} ms (median of {len(samples)})",
        f"{ceiling:.1f} ms to send the bytes",
        f"{ours / ceiling:.1f}",
        "CACHE_DISABLED, new numbers per request",
    )


def scenario_workers(report: Report, args: argparse.Namespace) -> None:
    """Cached /contacts with 1 and 2 worker processes."""
    results = {}
    for workers in (1, 2):
        with bridge({"BENCH_CONTACTS": "1000"}, workers=workers)() as (port, _):
            for _ in range(workers * 8):
                warm(port)  # each worker has its own memory cache
            results[workers] = drive(
                f"http://127.0.0.1:{port}/contacts",
                seconds=args.seconds,
                connections=args.connections,
                headers=headers_for(KEY),
            )
    report.add(
        "GET /contacts cached, 2 workers vs 1",
        fmt_load(results[2]),
        fmt_load(results[1]),
        f"{results[2].requests_per_second / results[1].requests_per_second:.2f}",
        "2 cores shared with the load driver",
    )


async def _stream(total: int) -> tuple[float, float]:
    """(bridge contacts/s, raw publish contacts/s) through the test emulator."""
    import aiohttp
    import orjson
    from gcloud.aio.pubsub import PublisherClient, PubsubMessage

    from examples.fake_crm import generate_contacts
    from integration_bridge.contacts import prepare_contacts
    from integration_bridge.testing.pubsub_emulator import PubSubEmulator

    topic = "projects/bench/topics/contacts"
    async with PubSubEmulator() as emulator:
        emulator.create_topic(topic)
        emulator.create_subscription("projects/bench/subscriptions/contacts", topic)
        port = free_port()
        env = {
            **os.environ,
            "PORT": str(port),
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(ROOT),
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "INTEGRATION_NAME": "bench",
            "PUBSUB_TOPIC_NAME_CONTACT_STREAMING": topic,
            "BENCH_STREAM_CONTACTS": str(total),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "integration_bridge", "run",
            "benchmarks.bench_bridge:BenchBridge", "--host", "127.0.0.1",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
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
                    for message in emulator.drain("projects/bench/subscriptions/contacts"):
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
            await client.publish(topic, [PubsubMessage(data, ordering_key="k")])
        raw = time.perf_counter() - started
        await client.close()
    return total / elapsed, (total // 1000 * 1000) / raw


def scenario_stream(report: Report, args: argparse.Namespace) -> None:
    """100,000 contacts through POST /contacts/stream to the test emulator."""
    ours, raw = asyncio.run(_stream(args.stream_contacts))
    report.add(
        f"contact stream, {args.stream_contacts:,} contacts to the emulator",
        f"{ours:,.0f} contacts/s",
        f"{raw:,.0f} contacts/s",
        f"{ours / raw:.2f}",
        "baseline: same pages sanitized and published one by one, no framework",
    )


async def _tokens(callers: int) -> tuple[int, int, float]:
    from integration_bridge.cache.storage import MemoryStorage
    from integration_bridge.cache.token import TokenCache
    from integration_bridge.models import Config

    calls = 0

    async def refresh(config: Config) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return "token"

    config = Config(user_id="u", api_key="k")
    cache = TokenCache(MemoryStorage())
    started = time.perf_counter()
    await asyncio.gather(*(cache.get(config, refresh) for _ in range(callers)))
    elapsed = time.perf_counter() - started
    ours, calls = calls, 0
    naive: dict[str, str] = {}

    async def check_then_refresh() -> str:  # what a cache without single flight does
        if "k" in naive:
            return naive["k"]
        naive["k"] = await refresh(config)
        return naive["k"]

    await asyncio.gather(*(check_then_refresh() for _ in range(callers)))
    return ours, calls, elapsed


def scenario_tokens(report: Report, args: argparse.Namespace) -> None:
    """100 concurrent callers of get_fresh_access_token for one key."""
    ours, naive, elapsed = asyncio.run(_tokens(100))
    report.add(
        "token cache, 100 concurrent callers",
        f"{ours} refresh call(s) in {elapsed * 1000:.0f} ms",
        f"{naive} refresh calls",
        f"{ours / naive:.2f}",
        "baseline: check-then-refresh without single flight",
    )


SCENARIOS: dict[str, Callable[[Report, argparse.Namespace], None]] = {
    "serving": lambda report, args: scenario_serving(report, args, 1000),
    "large": lambda report, args: scenario_serving(report, args, 10_000),
    "memory": scenario_memory,
    "cold": scenario_cold_fetch,
    "workers": scenario_workers,
    "stream": scenario_stream,
    "tokens": scenario_tokens,
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=200, help="users in the memory scenario")
    parser.add_argument("--cold-samples", type=int, default=20)
    parser.add_argument("--stream-contacts", type=int, default=100_000)
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated of {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args(argv)
    report = Report()
    for name in args.only.split(","):
        print(f"[{name}]", flush=True)
        SCENARIOS[name.strip()](report, args)
    print()
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
