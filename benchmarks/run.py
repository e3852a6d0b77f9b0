"""Run the benchmark scenarios and print a table with ratios against a same-run baseline.

``python -m benchmarks.run`` (``--help`` for options). Every server is started
on 127.0.0.1 by the scenarios and stopped at the end; nothing else is
contacted. The servers are in `benchmarks.servers`, the scenarios in
`benchmarks.scenarios`.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.report import Report
from benchmarks.scenarios import SCENARIOS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--seconds", type=float, default=5.0, help="load per measurement")
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved runs per side; the best one counts"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=200, help="users in the memory scenario")
    parser.add_argument("--cold-samples", type=int, default=20)
    parser.add_argument("--stream-contacts", type=int, default=100_000)
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated of {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in _names(args.only) if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    return args


def _names(only: str) -> list[str]:
    return [name.strip() for name in only.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print the table."""
    args = parse_args(argv)
    report = Report()
    for name in _names(args.only):
        print(f"[{name}]", flush=True)
        SCENARIOS[name](report, args)
    print()
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
