"""A fake Google Compute Engine metadata server for tests, on 127.0.0.1 only.

It serves what Application Default Credentials ask of the metadata server
(Workload Identity on GKE answers the same paths): the default service
account's access token and the project id, only to requests that carry
``Metadata-Flavor: Google``. Point ``GCE_METADATA_HOST`` at `host`.

Usage::

    async with FakeMetadataServer(token="t0k3n", project="my-project") as metadata:
        os.environ["GCE_METADATA_HOST"] = metadata.host
        ...
"""

from __future__ import annotations

from aiohttp import web

from integration_bridge.testing.loopback import LoopbackServer

__all__ = ["FakeMetadataServer"]

_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
_PROJECT_PATH = "/computeMetadata/v1/project/project-id"


class FakeMetadataServer(LoopbackServer):
    """Hands out one access token; start it with ``async with`` or `start`/`stop`."""

    def __init__(
        self,
        *,
        token: str = "fake-access-token",
        project: str = "fake-project",
        expires_in: int = 3600,
    ) -> None:
        self.token = token
        """The access token served (may be changed while running)."""
        self.project = project
        self.expires_in = expires_in
        self.token_requests = 0
        self.refused_requests = 0
        self.status: int | None = None
        """When set, every request is answered with this status (e.g. 404: no service account)."""

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the value for ``GCE_METADATA_HOST``."""
        return f"127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        """The token and project-id paths."""
        app = web.Application()
        app.router.add_get(_TOKEN_PATH, self._token)
        app.router.add_get(_PROJECT_PATH, self._project)
        return app

    def _refusal(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Metadata-Flavor") != "Google":
            self.refused_requests += 1
            return web.Response(status=403, text="Missing Metadata-Flavor: Google header")
        if self.status is not None:
            self.refused_requests += 1
            return web.Response(status=self.status, text="refused")
        return None

    async def _token(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        self.token_requests += 1
        return web.json_response(
            {"access_token": self.token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    async def _project(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        return refusal or web.Response(text=self.project)
