"""GET /contacts with the cache off: fetch, validate and sanitize a whole list.

The comparison that counts is against the original framework on this machine, in
this run: `benchmarks/original/server.js` re-creates the original's cold path on
its own stack (Express, awesome-phonenumber 3.4.0) and answers the same users
from the same CRM answers. Every server decodes a user's list from the same JSON
bytes on each request (the fetch), so what differs is what each framework does
with it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import orjson

from benchmarks.report import Report
from benchmarks.servers import (
    Server,
    bridge,
    cpu_seconds,
    get,
    headers_for,
    original,
    original_missing,
)
from examples.fake_crm import generate_contacts

CONTACTS = 1000
WARM_UP = 3
"""Requests per server before measuring: the parse workers start, the regions' metadata loads."""


def _sample(server: Server, key: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    _, body, _ = get(server.url("/contacts"), headers_for(key))
    return (time.perf_counter() - started) * 1000, body


def _keys(samples: int) -> Iterator[str]:
    yield from (f"warm-{index}" for index in range(WARM_UP))
    yield from (f"cold-{index}" for index in range(samples))


def _write_lists(directory: Path, samples: int) -> Path:
    """One new list per key: every measured request sees numbers no server has parsed."""
    path = directory / "lists.json"
    lists = {key: generate_contacts(key, CONTACTS) for key in _keys(samples)}
    path.write_bytes(orjson.dumps(lists))
    return path


def _agreement(ours: bytes, theirs: bytes) -> str:
    """How many numbers both frameworks sanitize alike (E.164 and localized form)."""
    pairs = [
        (mine, other)
        for contact, original_contact in zip(orjson.loads(ours), orjson.loads(theirs), strict=True)
        for mine, other in zip(
            contact["phoneNumbers"], original_contact["phoneNumbers"], strict=True
        )
    ]
    same = sum(
        mine["e164"] == other["e164"] and mine["localized"] == other["localized"]
        for mine, other in pairs
    )
    return f"{same} of {len(pairs)} numbers sanitized alike"


def scenario_cold_fetch(report: Report, args: argparse.Namespace) -> None:
    """1,000 contacts with new numbers per request: ours (parse worker on and off) vs the original.

    The servers get the same provider keys (the same numbers) in turn, so a
    burst of load elsewhere hits all of them; the warm-up requests are left out.
    """
    missing = original_missing()
    samples = args.cold_samples
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        lists = _write_lists(Path(directory), samples)
        env = {"BENCH_LISTS": str(lists), "CACHE_DISABLED": "true"}
        servers = {
            "pooled": stack.enter_context(bridge({**env, "PHONE_PARSE_WORKERS": "1"})),
            "in-process": stack.enter_context(bridge({**env, "PHONE_PARSE_WORKERS": "0"})),
        }
        if missing is None:
            servers["original"] = stack.enter_context(original(lists))
        for key in _keys(0):
            for server in servers.values():
                _sample(server, key)
        time.sleep(2)
        times: dict[str, list[float]] = {name: [] for name in servers}
        cpu = dict.fromkeys(servers, 0.0)  # the serving process only
        bodies: dict[str, bytes] = {}
        for key in _keys(samples):
            if key.startswith("warm-"):
                continue
            for name, server in servers.items():
                before = cpu_seconds(server.pid)
                elapsed, bodies[name] = _sample(server, key)
                cpu[name] += cpu_seconds(server.pid) - before
                times[name].append(elapsed)
    median = {name: statistics.median(values) for name, values in times.items()}
    cpu_ms = {name: seconds / samples * 1000 for name, seconds in cpu.items()}

    def timed(name: str) -> str:
        return f"{median[name]:.1f} ms (median of {samples})"

    if missing is None:
        agreement = _agreement(bodies["pooled"], bodies["original"])
        for name, label in (("pooled", "1 parse worker"), ("in-process", "in-process")):
            report.add(
                f"cold fetch + sanitize, {CONTACTS:,} contacts, {label} vs the original",
                timed(name),
                f"{timed('original')} (Express, awesome-phonenumber)",
                f"{median[name] / median['original']:.2f}",
                f"same CRM answers, interleaved; serving process CPU {cpu_ms[name]:.0f} vs "
                f"{cpu_ms['original']:.0f} ms per request; {agreement}",
            )
    else:
        report.add(
            f"cold fetch + sanitize, {CONTACTS:,} contacts vs the original",
            timed("pooled"),
            "not measured",
            "-",
            f"the original's re-created path needs {missing}",
        )
    report.add(
        f"cold fetch + sanitize, {CONTACTS:,} contacts, 1 parse worker vs none",
        timed("pooled"),
        f"{timed('in-process')} in-process",
        f"{median['pooled'] / median['in-process']:.2f}",
        f"PHONE_PARSE_WORKERS=1 vs 0, same keys, interleaved; event loop's process CPU "
        f"{cpu_ms['pooled']:.0f} vs {cpu_ms['in-process']:.0f} ms per request",
    )
