"""Python calls per request, counted with ``sys.setprofile`` (independent of machine load).

``python -m benchmarks.calls [--baseline]`` serves the bench bridge (or the bare
baseline app) in this process on uvloop and sends, from a thread on one
keep-alive connection to 127.0.0.1, 50 warm-up and then ``--requests`` requests
per path; it prints the server thread's Python ``call`` events (coroutine
resumptions included) and C calls per request.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
from types import FrameType
from typing import Any

import uvloop
from aiohttp import web

PATHS = (("/health", False, "GET /health"), ("/contacts", True, "cached GET /contacts, gzip"))
PATHS += (("/contacts", False, "cached GET /contacts, identity"),)


def _request(path: str, gzip: bool) -> bytes:
    head = (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nx-user-id: bench\r\n"
        "x-provider-key: bench-key-0\r\nx-provider-locale: de-DE\r\n"
    )
    return (head + ("Accept-Encoding: gzip\r\n" if gzip else "") + "\r\n").encode()


def _client(port: int, path: str, gzip: bool, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as stream:
        for _ in range(count):
            sock.sendall(_request(path, gzip))
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)


async def _count(app: web.Application, requests: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    try:
        for path, gzip, name in PATHS:
            await loop.run_in_executor(None, _client, port, path, gzip, 50)
            counts = [0, 0]

            def profile(frame: FrameType, event: str, arg: Any, counts: list[int] = counts) -> None:
                if event == "call":
                    counts[0] += 1
                elif event == "c_call":
                    counts[1] += 1

            done = asyncio.Event()

            def load(path: str = path, gzip: bool = gzip, done: asyncio.Event = done) -> None:
                _client(port, path, gzip, requests)
                loop.call_soon_threadsafe(done.set)

            thread = threading.Thread(target=load)
            sys.setprofile(profile)
            thread.start()
            await done.wait()
            sys.setprofile(None)
            thread.join()
            print(f"{name}: {counts[0] / requests:.1f} Python calls, {counts[1] / requests:.1f} C")
    finally:
        await runner.cleanup()


def main() -> None:
    """Count and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", action="store_true", help="the bare aiohttp app")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if args.baseline:
        from benchmarks.baseline import make_app

        app = make_app(1000)
    else:
        from benchmarks.bench_bridge import BenchBridge
        from integration_bridge.app import create_app

        app = create_app(BenchBridge())
    uvloop.run(_count(app, args.requests))


if __name__ == "__main__":
    main()
