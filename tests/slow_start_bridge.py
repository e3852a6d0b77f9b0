"""A bridge whose later workers are slow to start (started by the CLI test).

The master process and the first worker to start build it at once; every other
worker sleeps in ``__init__`` for a minute, so a SIGTERM sent as soon as the first
worker answers reaches the others before they serve.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from integration_bridge import Adapter

_MASTER_PID = os.getpid()  # imported by the master before it forks the workers


class SlowStartBridge(Adapter):
    """Serves only the health check; workers after the first take a minute to start."""

    def __init__(self) -> None:
        if os.getpid() == _MASTER_PID:
            return
        first = Path(os.environ["SLOW_START_DIR"]) / "first-worker"
        try:
            first.touch(exist_ok=False)
        except FileExistsError:
            end = time.monotonic() + 60
            while time.monotonic() < end:
                if os.getppid() != _MASTER_PID:  # the master is gone: never serve
                    raise SystemExit(1) from None
                time.sleep(0.05)
