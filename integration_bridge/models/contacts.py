"""Contacts as a bridge returns them and as the front end sends them."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from .base import InboundModel, WireModel
from .entities import IntegrationEntityType


class PhoneNumberLabel(StrEnum):
    """Known phone number labels; any other string is allowed too."""

    WORK = "WORK"
    MOBILE = "MOBILE"
    HOME = "HOME"
    HOMEFAX = "HOMEFAX"
    WORKFAX = "WORKFAX"
    OTHERFAX = "OTHERFAX"
    PAGER = "PAGER"
    WORKMOBILE = "WORKMOBILE"
    WORKPAGER = "WORKPAGER"
    MAIN = "MAIN"
    GOOGLEVOICE = "GOOGLEVOICE"
    OTHER = "OTHER"
    DIRECTDIAL = "DIRECTDIAL"


class PhoneNumberType(StrEnum):
    """Set by sanitizing: a short internal extension or a full number."""

    STANDARD = "STANDARD"
    DIRECT_DIAL = "DIRECT_DIAL"


class ContactScope(StrEnum):
    """Who can see a contact."""

    PRIVATE = "PRIVATE"
    SHARED = "SHARED"
    INTERNAL = "INTERNAL"


class PhoneNumber(WireModel):
    """A labeled phone number."""

    label: str
    phone_number: str


class RelatedEntity(WireModel):
    """An entity a contact relates to (labeled, logged or plain)."""

    id: str
    type: IntegrationEntityType
    source: str
    label: str | None = None
    log_id: str | None = None


class ContactTemplate(InboundModel):
    """The fields of a contact to create."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    organization: str | None = None
    contact_url: str | None = None
    avatar_url: str | None = None
    phone_numbers: list[PhoneNumber]
    type: IntegrationEntityType | None = None
    scope: ContactScope | None = None

    _always_sent: ClassVar[frozenset[str]] = frozenset(
        {"name", "first_name", "last_name", "email", "organization", "contact_url", "avatar_url"}
    )


class ContactUpdate(ContactTemplate):
    """The fields of a contact to update, with its id."""

    id: str


class Contact(WireModel):
    """A contact as the CRM holds it."""

    id: str
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    organization: str | None = None
    contact_url: str | None = None
    avatar_url: str | None = None
    phone_numbers: list[PhoneNumber]
    readonly: bool | None = None
    type: IntegrationEntityType | None = None
    scope: ContactScope | None = None
    relates_to: list[RelatedEntity] | None = None

    _always_sent: ClassVar[frozenset[str]] = frozenset(
        {"name", "first_name", "last_name", "email", "organization", "contact_url", "avatar_url"}
    )
