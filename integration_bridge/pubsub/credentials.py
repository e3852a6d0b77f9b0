"""Google credentials for Pub/Sub: Application Default Credentials via gcloud-aio-auth.

`gcloud.aio.auth.Token` finds credentials in Google's order:
``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's application-default credentials
file, then the metadata server (Workload Identity on GKE, Cloud Run, GCE).
Start-up asks it for one token, bounded in time, so that a bridge with topics
but no credentials stops at once instead of losing every message later.

gcloud-aio-auth reads ``GCE_METADATA_HOST`` once, when it is imported; this
module reads it again when a token source is made, so the value in the
environment at start-up is the one used (tests run a metadata server of their
own on loopback).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp

from integration_bridge.settings import SettingsError

__all__ = ["CredentialsError", "GoogleCredentials", "metadata_base_url"]

PUBSUB_SCOPES = ["https://www.googleapis.com/auth/pubsub"]
_METADATA_HEADERS = {"Metadata-Flavor": "Google"}

_HOW_TO_FIX = (
    "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, run on GKE with"
    " Workload Identity (or anywhere the metadata server serves a service account),"
    " or set PUBSUB_BACKEND=local to only log messages"
)


class CredentialsError(SettingsError):
    """No Google credentials could be obtained; the message says what to set."""


def metadata_base_url() -> str:
    """``http://<GCE_METADATA_HOST>/computeMetadata/v1`` as the environment says now."""
    host = (
        os.environ.get("GCE_METADATA_HOST")
        or os.environ.get("GCE_METADATA_ROOT")
        or "metadata.google.internal"
    )
    return f"http://{host}/computeMetadata/v1"


class GoogleCredentials:
    """A gcloud-aio-auth `Token` for Pub/Sub and where it came from."""

    def __init__(self, service_file: str | None = None) -> None:
        from gcloud.aio.auth import Token
        from gcloud.aio.auth.token import Type

        try:
            self.token: Any = Token(service_file=service_file, scopes=PUBSUB_SCOPES)
            self._explicit = bool(service_file or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
        except (OSError, ValueError, KeyError) as error:
            raise CredentialsError(
                "GOOGLE_APPLICATION_CREDENTIALS",
                f"cannot use the credentials file ({type(error).__name__}); {_HOW_TO_FIX}",
            ) from None
        self._metadata = self.token.token_type is Type.GCE_METADATA
        if self._metadata:
            self.token.token_uri = (
                f"{metadata_base_url()}/instance/service-accounts/default/token?recursive=true"
            )

    @property
    def source(self) -> str:
        """Where the credentials come from, for the start-up line (never the secret)."""
        if self._metadata:
            return "metadata server"
        kind = str(self.token.token_type.value)
        if self._explicit:
            return f"{kind} from GOOGLE_APPLICATION_CREDENTIALS"
        return f"{kind} from gcloud's application-default credentials file"

    async def check(self, timeout: float) -> None:  # noqa: ASYNC109 - a start-up bound
        """Obtain a first token within ``timeout`` seconds.

        Raises:
            CredentialsError: none could be obtained.
        """
        from tenacity import stop_after_delay, wait_random_exponential

        # The library's own acquisition, with its retries cut to the start-up bound,
        # so that the last failure (not just "too slow") is what we report.
        acquire = type(self.token).acquire_access_token.retry_with(
            stop=stop_after_delay(timeout),
            wait=wait_random_exponential(multiplier=0.1, max=1.0),
            reraise=True,
        )
        try:
            async with asyncio.timeout(timeout + 1):
                await acquire(self.token, timeout=max(1, round(timeout)))
                token = await self.token.get()
        except Exception as error:
            cause = "no answer in time" if isinstance(error, TimeoutError) else _describe(error)
            raise CredentialsError(
                "GOOGLE_APPLICATION_CREDENTIALS",
                f"no Google credentials for Pub/Sub ({self.source}: {cause}); {_HOW_TO_FIX}",
            ) from None
        if not token:
            raise CredentialsError(
                "GOOGLE_APPLICATION_CREDENTIALS",
                f"no Google credentials for Pub/Sub ({self.source}: empty token); {_HOW_TO_FIX}",
            )

    def project(self) -> str | None:
        """The project named in the credentials file, if any."""
        project = self.token.service_data.get("project_id")
        return project if isinstance(project, str) and project else None

    async def metadata_project(self, timeout: float = 5.0) -> str | None:  # noqa: ASYNC109
        """The project id the metadata server names (None off Google Cloud)."""
        if not self._metadata:
            return None
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.get(
                    f"{metadata_base_url()}/project/project-id", headers=_METADATA_HEADERS
                ) as response,
            ):
                if response.status != 200:
                    return None
                project = (await response.text()).strip()
        except (aiohttp.ClientError, TimeoutError):
            return None
        return project or None

    async def close(self) -> None:
        """Close the token's HTTP session."""
        await self.token.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    return type(error).__name__
