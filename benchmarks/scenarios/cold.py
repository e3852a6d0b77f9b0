"""GET /contacts with the cache off: fetch, validate and sanitize a whole list."""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.report import Report
from benchmarks.servers import KEY, baseline, bridge, get, headers_for


def scenario_cold_fetch(report: Report, args: argparse.Namespace) -> None:
    """1,000 contacts with new phone numbers per request, against sending the bytes."""
    samples: list[float] = []
    served: list[float] = []
    with bridge({"BENCH_CONTACTS": "1000", "CACHE_DISABLED": "true"}) as ours:
        for index in range(args.cold_samples):
            started = time.perf_counter()
            get(ours.url("/contacts"), headers_for(f"cold-{index}"))
            samples.append((time.perf_counter() - started) * 1000)
    with baseline(1000) as ceiling:
        for _ in range(args.cold_samples):
            started = time.perf_counter()
            get(ceiling.url("/contacts"), headers_for(KEY))
            served.append((time.perf_counter() - started) * 1000)
    ours_ms, ceiling_ms = statistics.median(samples), statistics.median(served)
    report.add(
        "cold fetch + sanitize, 1,000 contacts",
        f"{ours_ms:.1f} ms (median of {len(samples)})",
        f"{ceiling_ms:.1f} ms to send the bytes",
        f"{ours_ms / ceiling_ms:.1f}",
        "CACHE_DISABLED, new numbers per request",
    )
