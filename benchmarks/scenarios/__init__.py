"""The benchmark scenarios, one module per concern.

A scenario is a function ``(report, args) -> None`` that starts what it needs
(`benchmarks.servers`), measures, adds rows to the `Report` and stops
everything again. To add one: write it in a module here, register it in
`SCENARIOS` under a short name, and add any option it needs in
`benchmarks.run`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from benchmarks.report import Report
from benchmarks.scenarios.cold import scenario_cold_fetch
from benchmarks.scenarios.memory import scenario_memory
from benchmarks.scenarios.observability import scenario_observability
from benchmarks.scenarios.serving import scenario_large, scenario_serving, scenario_workers
from benchmarks.scenarios.stream import scenario_stream
from benchmarks.scenarios.tokens import scenario_tokens

Scenario = Callable[[Report, argparse.Namespace], None]

SCENARIOS: dict[str, Scenario] = {
    "serving": scenario_serving,
    "large": scenario_large,
    "memory": scenario_memory,
    "cold": scenario_cold_fetch,
    "workers": scenario_workers,
    "stream": scenario_stream,
    "tokens": scenario_tokens,
    "observability": scenario_observability,
}
"""Name (for ``--only``) → scenario, in the order a full run goes through them."""
