"""CRM entities a contact or call log relates to."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from .base import WireModel


class IntegrationEntityType(StrEnum):
    """Kinds of CRM objects."""

    CONTACTS = "contacts"
    DEALS = "deals"
    COMPANIES = "companies"
    TICKETS = "tickets"
    LEADS = "leads"
    ACCOUNTS = "accounts"
    OPPORTUNITIES = "opportunities"
    CASES = "cases"
    BUILDING_OBJECTS = "building_objects"
    BUILDING_OBJECTS_LEADS = "building_objects_leads"
    CONTACTS_FOLDER = "contacts_folder"
    USERS = "users"
    TASKS = "tasks"


ENTITY_TYPES = frozenset(item.value for item in IntegrationEntityType)
"""The values of ``IntegrationEntityType`` (the ``type`` query parameter's choices)."""


class IntegrationEntity(WireModel):
    """A reference to one CRM object."""

    id: str
    type: IntegrationEntityType
    source: str


class DealProperties(WireModel):
    """Additional properties of a deal."""

    is_open: bool | None = None


class LabeledIntegrationEntity(IntegrationEntity):
    """An entity with a human-readable label."""

    label: str
    additional_properties: dict[str, Any] | None = None


class LoggedIntegrationEntity(IntegrationEntity):
    """An entity a call was logged to, with the id of the log entry."""

    log_id: str


def is_logged_integration_entity(entity: BaseModel | dict[str, Any]) -> bool:
    """True when the entity carries a non-empty ``logId`` (it was logged to)."""
    if isinstance(entity, dict):
        log_id = entity.get("logId", entity.get("log_id"))
    else:
        log_id = getattr(entity, "log_id", None)
    return isinstance(log_id, str) and bool(log_id)
