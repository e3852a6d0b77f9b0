"""Shapes of the framework's own JSON answers (documented in the OpenAPI document)."""

from __future__ import annotations

from .base import WireModel
from .contacts import Contact, PhoneNumberType


class SanitizedPhoneNumber(WireModel):
    """A phone number after sanitizing: its type, E.164 and localized forms."""

    label: str
    type: PhoneNumberType
    e164: str
    localized: str
    phone_number: str


class SanitizedContact(Contact):
    """A contact as the bridge answers it: name composed, phone numbers sanitized."""

    phone_numbers: list[SanitizedPhoneNumber]  # type: ignore[assignment]


class StreamStarted(WireModel):
    """POST /contacts/stream: the stream's timestamp (ms), also in its ordering key."""

    timestamp: int


class FollowUpCreated(WireModel):
    """POST /tasks: the id of the created follow-up."""

    follow_up_id: str


class OAuth2RedirectUrl(WireModel):
    """GET /oauth2/redirect: where to send the user to log in to the CRM."""

    redirect_url: str


class OAuth2Token(WireModel):
    """GET /oauth2/token: the provider key and API URL the login yielded."""

    api_key: str
    api_url: str
