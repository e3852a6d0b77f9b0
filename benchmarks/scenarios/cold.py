"""GET /contacts with the cache off: fetch, validate and sanitize a whole list."""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.report import Report
from benchmarks.servers import KEY, Server, baseline, bridge, cpu_seconds, get, headers_for


def _sample(server: Server, key: str) -> float:
    started = time.perf_counter()
    get(server.url("/contacts"), headers_for(key))
    return (time.perf_counter() - started) * 1000


def scenario_cold_fetch(report: Report, args: argparse.Namespace) -> None:
    """1,000 contacts with new phone numbers per request: parse workers on and off, interleaved.

    Both bridges get the same provider keys (the same numbers) in turn, so a
    burst of load elsewhere hits both; the first requests, which start the
    parse workers, are left out.
    """
    env = {"BENCH_CONTACTS": "1000", "CACHE_DISABLED": "true"}
    pooled: list[float] = []
    single: list[float] = []
    with (
        bridge({**env, "PHONE_PARSE_WORKERS": "1"}) as ours,
        bridge({**env, "PHONE_PARSE_WORKERS": "0"}) as in_process,
    ):
        for index in range(3):  # warm-up: starts the workers, loads the regions' metadata
            _sample(ours, f"warm-{index}")
            _sample(in_process, f"warm-{index}")
        time.sleep(2)
        cpu = {ours.pid: 0.0, in_process.pid: 0.0}  # the event loop's process only
        for index in range(args.cold_samples):
            for server, samples in ((ours, pooled), (in_process, single)):
                before = cpu_seconds(server.pid)
                samples.append(_sample(server, f"cold-{index}"))
                cpu[server.pid] += cpu_seconds(server.pid) - before
    loop_ms = {pid: seconds / args.cold_samples * 1000 for pid, seconds in cpu.items()}
    with baseline(1000) as ceiling:
        served = [_sample(ceiling, KEY) for _ in range(args.cold_samples)]
    ours_ms, single_ms = statistics.median(pooled), statistics.median(single)
    report.add(
        "cold fetch + sanitize, 1,000 contacts",
        f"{ours_ms:.1f} ms (median of {len(pooled)})",
        f"{statistics.median(served):.1f} ms to send the bytes",
        f"{ours_ms / statistics.median(served):.1f}",
        "CACHE_DISABLED, new numbers per request",
    )
    report.add(
        "cold fetch + sanitize, 1 parse worker vs none",
        f"{ours_ms:.1f} ms (median of {len(pooled)})",
        f"{single_ms:.1f} ms in-process (median of {len(single)})",
        f"{ours_ms / single_ms:.2f}",
        f"PHONE_PARSE_WORKERS=1 vs 0, same keys, interleaved; event loop's process CPU "
        f"{loop_ms[ours.pid]:.0f} vs {loop_ms[in_process.pid]:.0f} ms per request",
    )
