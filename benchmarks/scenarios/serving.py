"""Throughput against the same-run ceiling: /health, cached /contacts, 2 workers vs 1.

Each comparison is interleaved (bridge, baseline, bridge, baseline, ...,
``--rounds`` times) and the best run of each side counts, so a burst of load
from elsewhere on the machine hits both sides alike instead of one of them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from benchmarks.driver import LoadResult, drive
from benchmarks.report import Report, fmt_load
from benchmarks.servers import KEY, Server, baseline, bridge, cpu_seconds, headers_for, warm


@dataclass(frozen=True)
class _Run:
    load: LoadResult
    cpu_us: float  # server CPU time per request


def _run(server: Server, path: str, args: argparse.Namespace, headers: dict[str, str]) -> _Run:
    cpu_before = cpu_seconds(server.pid)
    load = drive(
        server.url(path), seconds=args.seconds, connections=args.connections, headers=headers
    )
    cpu = cpu_seconds(server.pid) - cpu_before
    requests = load.requests_per_second * args.seconds
    return _Run(load, cpu / requests * 1e6 if requests else float("nan"))


def load_pair(
    report: Report,
    scenario: str,
    ours: Server,
    ceiling: Server,
    path: str,
    args: argparse.Namespace,
    headers: dict[str, str],
) -> LoadResult:
    """Drive ``path`` on the bridge and on the baseline alike, interleaved; report the ratio.

    The note also gives each side's server CPU time per request (best run), a
    figure that a busy machine disturbs less than requests/s.
    """
    mine: list[_Run] = []
    theirs: list[_Run] = []
    for _ in range(max(1, args.rounds)):
        mine.append(_run(ours, path, args, headers))
        theirs.append(_run(ceiling, path, args, headers))
    best = max(mine, key=lambda run: run.load.requests_per_second)
    best_ceiling = max(theirs, key=lambda run: run.load.requests_per_second)
    per_round = "/".join(
        f"{a.load.requests_per_second / b.load.requests_per_second:.2f}"
        for a, b in zip(mine, theirs, strict=True)
    )
    cpu_ours = min(run.cpu_us for run in mine)
    cpu_ceiling = min(run.cpu_us for run in theirs)
    report.add(
        scenario,
        fmt_load(best.load),
        fmt_load(best_ceiling.load),
        f"{best.load.requests_per_second / best_ceiling.load.requests_per_second:.2f}",
        f"driver: {best.load.tool}; best of {len(mine)}, rounds {per_round}; "
        f"CPU/request {cpu_ours:.0f} vs {cpu_ceiling:.0f} us",
    )
    return best.load


def _serving(report: Report, args: argparse.Namespace, contacts: int) -> None:
    with bridge({"BENCH_CONTACTS": str(contacts)}) as ours, baseline(contacts) as ceiling:
        size = warm(ours.port)
        suffix = f"{contacts:,} contacts, {size / 1024:.0f} KB"

        def pair(scenario: str, path: str, headers: dict[str, str]) -> None:
            load_pair(report, scenario, ours, ceiling, path, args, headers)

        if contacts == 1000:
            pair("GET /health", "/health", {})
        pair(f"GET /contacts cached ({suffix})", "/contacts", headers_for(KEY))
        if contacts == 1000:
            pair(f"GET /contacts cached gzip ({suffix})", "/contacts", headers_for(KEY, gzip=True))


def scenario_serving(report: Report, args: argparse.Namespace) -> None:
    """/health, and cached /contacts (1,000) identity and gzip, against the bare server."""
    _serving(report, args, 1000)


def scenario_large(report: Report, args: argparse.Namespace) -> None:
    """Cached /contacts with 10,000 contacts against the bare server."""
    _serving(report, args, 10_000)


def scenario_workers(report: Report, args: argparse.Namespace) -> None:
    """Cached /contacts with 1 and 2 worker processes."""
    results: dict[int, LoadResult] = {}
    for workers in (1, 2):
        with bridge({"BENCH_CONTACTS": "1000"}, workers=workers) as ours:
            _warm_every_worker(ours, workers)
            results[workers] = drive(
                ours.url("/contacts"),
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


def _warm_every_worker(server: Server, workers: int) -> None:
    for _ in range(workers * 8):
        warm(server.port)  # each worker has its own memory cache
