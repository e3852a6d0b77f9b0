"""The ceiling: a bare aiohttp app (uvloop) sending pre-encoded bytes, no framework.

``python -m benchmarks.baseline --port P --contacts N`` serves ``/health`` and
``/contacts`` with exactly the bytes the bridge sends for the same list
(identity or gzip, by ``Accept-Encoding``).
"""

from __future__ import annotations

import argparse

import orjson
from aiohttp import web

from examples.fake_crm import generate_contacts
from integration_bridge.cache.storage import gzip_bytes
from integration_bridge.contacts import prepare_contacts

PROVIDER_KEY = "bench-key-0"


def encoded_contacts(count: int, key: str = PROVIDER_KEY) -> bytes:
    """The JSON the bridge caches for ``key``."""
    return orjson.dumps(prepare_contacts(generate_contacts(key, count), "de-DE"))


def make_app(count: int) -> web.Application:
    """The bare app."""
    identity = encoded_contacts(count)
    compressed = gzip_bytes(identity)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def contacts(request: web.Request) -> web.Response:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(
                body=compressed,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        return web.Response(body=identity, headers={"Content-Type": "application/json"})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/contacts", contacts)
    return app


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--contacts", type=int, default=1000)
    args = parser.parse_args()
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(make_app(args.contacts), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
