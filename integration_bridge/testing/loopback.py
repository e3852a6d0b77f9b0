"""`LoopbackServer`: serve a test's fake (CRM, metadata server, Pub/Sub) on 127.0.0.1."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from aiohttp import web

__all__ = ["LoopbackServer"]


class LoopbackServer(ABC):
    """Serves `app` on 127.0.0.1 only; start it with ``async with`` or `start`/`stop`."""

    port = 0
    """The port listened on (0 until started)."""
    _runner: web.AppRunner | None = None

    @abstractmethod
    def app(self) -> web.Application:
        """The application to serve (built anew at each start)."""

    async def start(self, port: int = 0) -> str:
        """Listen on ``port`` (0: a free one) unless listening already; returns the base URL."""
        if self._runner is None:
            self._runner = web.AppRunner(self.app(), access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()
            self.port = int(self._runner.addresses[0][1])
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
