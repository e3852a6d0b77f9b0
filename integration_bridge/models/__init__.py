"""Pydantic models of the wire format (camelCase JSON, snake_case attributes)."""

from .base import InboundModel, WireModel
from .calls import (
    CallDirection,
    CallEvent,
    CallEventEntity,
    CallEventWithIntegrationEntities,
    CallParticipant,
    CallParticipantType,
    CallState,
)
from .config import Config
from .contacts import (
    Contact,
    ContactScope,
    ContactTemplate,
    ContactUpdate,
    PhoneNumber,
    PhoneNumberLabel,
    PhoneNumberType,
    RelatedEntity,
)
from .entities import (
    DealProperties,
    IntegrationEntity,
    IntegrationEntityType,
    LabeledIntegrationEntity,
    LoggedIntegrationEntity,
    is_logged_integration_entity,
)
from .events import IntegrationsEvent, IntegrationsEventType, OAuth2Credentials
from .tasks import (
    FollowUpWithIntegrationEntities,
    IntegrationDefinedOption,
    IntegrationDefinedOptions,
    Task,
)

__all__ = [
    "CallDirection",
    "CallEvent",
    "CallEventEntity",
    "CallEventWithIntegrationEntities",
    "CallParticipant",
    "CallParticipantType",
    "CallState",
    "Config",
    "Contact",
    "ContactScope",
    "ContactTemplate",
    "ContactUpdate",
    "DealProperties",
    "FollowUpWithIntegrationEntities",
    "InboundModel",
    "IntegrationDefinedOption",
    "IntegrationDefinedOptions",
    "IntegrationEntity",
    "IntegrationEntityType",
    "IntegrationsEvent",
    "IntegrationsEventType",
    "LabeledIntegrationEntity",
    "LoggedIntegrationEntity",
    "OAuth2Credentials",
    "PhoneNumber",
    "PhoneNumberLabel",
    "PhoneNumberType",
    "RelatedEntity",
    "Task",
    "WireModel",
    "is_logged_integration_entity",
]
