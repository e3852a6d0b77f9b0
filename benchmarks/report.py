"""The result table: rows printed as they come, Markdown at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.driver import LoadResult


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


def fmt_load(result: LoadResult) -> str:
    """``12,345 req/s (p50 1.2 ms, p99 3.4 ms)``."""
    errors = f", {result.errors} errors" if result.errors else ""
    return (
        f"{result.requests_per_second:,.0f} req/s "
        f"(p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms{errors})"
    )
