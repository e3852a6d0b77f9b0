"""Resident memory per cached contact."""

from __future__ import annotations

import argparse

from benchmarks.report import Report
from benchmarks.servers import bridge, rss_bytes, warm


def scenario_memory(report: Report, args: argparse.Namespace) -> None:
    """RSS per cached contact for ``--users`` users x 1,000 contacts."""
    users = args.users
    with bridge({"BENCH_CONTACTS": "1000"}) as ours:
        json_size = warm(ours.port, "warm-up-user")
        before = rss_bytes(ours.pid)
        for index in range(users):
            warm(ours.port, f"user-{index}")
        after = rss_bytes(ours.pid)
    per_contact = (after - before) / (users * 1000)
    json_per_contact = json_size / 1000
    report.add(
        f"memory, {users} users x 1,000 contacts cached",
        f"{per_contact:,.0f} B/contact (RSS +{(after - before) / 2**20:,.1f} MiB)",
        f"{json_per_contact:,.0f} B/contact of JSON",
        f"{per_contact / json_per_contact:.2f}",
        "RSS growth / contacts; baseline = the list's JSON size",
    )
