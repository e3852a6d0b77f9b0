"""Single flight of the token cache under concurrent callers."""

from __future__ import annotations

import argparse
import asyncio
import time

from benchmarks.report import Report


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
