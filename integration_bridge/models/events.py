"""CRM change events and OAuth2 results."""

from __future__ import annotations

from enum import StrEnum

from .base import WireModel
from .entities import IntegrationEntityType


class IntegrationsEventType(StrEnum):
    """What changed in the CRM."""

    CONTACT_CREATED = "CONTACT_CREATED"
    CONTACT_UPDATED = "CONTACT_UPDATED"
    CONTACT_DELETED = "CONTACT_DELETED"


class IntegrationsEvent(WireModel):
    """A CRM change notification, published to the integration events topic."""

    type: IntegrationsEventType
    account_id: str
    contact_id: str
    contact_type: IntegrationEntityType | str


class OAuth2Credentials(WireModel):
    """What an OAuth2 callback yields: the provider key and the API URL."""

    api_key: str
    api_url: str = ""

    def __repr__(self) -> str:
        from integration_bridge.logging import anonymize_key

        return (
            f"OAuth2Credentials(api_key={anonymize_key(self.api_key)!r}, api_url={self.api_url!r})"
        )

    __str__ = __repr__
