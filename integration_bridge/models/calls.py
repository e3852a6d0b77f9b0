"""Call events and the call logs made from them."""

from __future__ import annotations

from enum import StrEnum

from .base import InboundModel
from .entities import IntegrationEntityType


class CallDirection(StrEnum):
    """Who placed the call."""

    IN = "IN"
    OUT = "OUT"


class CallState(StrEnum):
    """How a call ended."""

    BUSY = "BUSY"
    CONNECTED = "CONNECTED"
    MISSED = "MISSED"
    NOT_FOUND = "NOT_FOUND"


class CallParticipantType(StrEnum):
    """Our side of the call or the other side."""

    LOCAL = "local"
    REMOTE = "remote"


class CallParticipant(InboundModel):
    """One party of a call."""

    type: CallParticipantType
    phone_number: str


class CallEvent(InboundModel):
    """A finished call. Times are milliseconds since the epoch."""

    id: str
    start_time: int
    end_time: int | None = None
    direction: CallDirection
    participants: list[CallParticipant]
    note: str | None = None
    state: CallState
    outcome: str | None = None


class CallEventEntity(InboundModel):
    """An entity a call should be logged to; ``log_id`` when it was logged before."""

    id: str
    type: IntegrationEntityType
    source: str
    label: str | None = None
    log_id: str | None = None


class CallEventWithIntegrationEntities(CallEvent):
    """A call event with the CRM entities to log it to."""

    integration_entities: list[CallEventEntity]
