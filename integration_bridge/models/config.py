"""The per-request configuration built from the request headers."""

from __future__ import annotations

from .base import WireModel


class Config(WireModel, frozen=True):
    """Who is calling and with which CRM credentials (from the ``x-*`` headers); immutable."""

    user_id: str = ""
    api_key: str = ""
    api_url: str = ""
    locale: str = "de-DE"

    def __repr__(self) -> str:
        # Never show the provider key.
        from integration_bridge.logging import anonymize_key

        return (
            f"Config(user_id={self.user_id!r}, api_key={anonymize_key(self.api_key)!r}, "
            f"api_url={self.api_url!r}, locale={self.locale!r})"
        )

    __str__ = __repr__
