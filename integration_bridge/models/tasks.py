"""Tasks and follow-ups."""

from __future__ import annotations

from .base import InboundModel, WireModel
from .calls import CallEventEntity


class Task(WireModel):
    """A CRM task. ``created_at``/``due_at`` as the CRM gives them (ms or ISO)."""

    id: str
    content: str
    created_at: int | float | str
    due_at: int | float | str
    title: str
    type: str | None = None
    link: str | None = None


class FollowUpWithIntegrationEntities(InboundModel):
    """A follow-up task to create, with the entities it belongs to."""

    content: str
    due_at: int | float | str
    title: str
    type: str | None = None
    integration_entities: list[CallEventEntity]


class IntegrationDefinedOption(WireModel):
    """One choice the CRM offers."""

    label: str
    key: str


class IntegrationDefinedOptions(WireModel):
    """Options the CRM defines (task types, call log outcomes, ...)."""

    label: str
    type: str | None = None
    options: list[IntegrationDefinedOption] | None = None
