"""Server instructions per request, counted by callgrind (independent of machine load).

``python -m benchmarks.instructions [--requests N]`` starts the bench bridge and
the bare baseline app (`benchmarks.baseline`), each in its own process under
``valgrind --tool=callgrind`` on 127.0.0.1, and sends from this process, on one
keep-alive connection, 100 warm-up requests and then ``N`` more per path. A
server run with the warm-up alone is subtracted, so start-up and warm-up cancel
out; what is left, divided by ``N``, is the server's instructions per request.
Prints them per path, with the ratio bare / bridge. Instructions leave out
cache misses, which each extra Python call pays under load: server CPU ratios
measured under wrk have been about 0.05 below these ratios. Needs valgrind;
each server run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from benchmarks.calls import PATHS, _client

_ROOT = Path(__file__).resolve().parent.parent
_WARM_UP = 100


async def _serve(kind: str, port: int) -> None:
    if kind == "baseline":
        from benchmarks.baseline import make_app

        app = make_app(1000)
    else:
        from benchmarks.bench_bridge import BenchBridge
        from integration_bridge.app import create_app

        app = create_app(BenchBridge())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


def _instructions(kind: str, path: str, gzip: bool, requests: int, port: int) -> int:
    """All instructions of one server process that answered warm-up + ``requests``."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        serve = ["-m", "benchmarks.instructions", "--serve", kind, "--port", str(port)]
        server = subprocess.Popen(
            [*valgrind, sys.executable, *serve],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=_ROOT,
            # A fixed hash seed: with a random one, dict and set layouts (and so the
            # counts) differ by about 1,000 instructions per request from run to run.
            env={**os.environ, "LOG_LEVEL": "ERROR", "PYTHONHASHSEED": "0"},
        )
        assert server.stdout is not None
        server.stdout.readline()  # "ready"
        _client(port, path, gzip, _WARM_UP + requests)
        server.send_signal(signal.SIGTERM)
        server.wait()
        found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert found is not None, "no totals in callgrind's output"
        return int(found.group(1))


def main() -> None:
    """Count and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--serve", choices=("bridge", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(_serve(args.serve, args.port))
        return
    port = 20000 + os.getpid() % 20000
    for path, gzip, name in PATHS:
        per_request = {}
        for kind in ("bridge", "baseline"):
            port += 2
            alone = _instructions(kind, path, gzip, 0, port)
            loaded = _instructions(kind, path, gzip, args.requests, port + 1)
            per_request[kind] = (loaded - alone) / args.requests
        bridge, bare = per_request["bridge"], per_request["baseline"]
        print(f"{name}: bridge {bridge:,.0f}, bare {bare:,.0f} instructions ({bare / bridge:.2f})")


if __name__ == "__main__":
    main()
