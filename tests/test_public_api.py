"""The package root's public surface."""

from __future__ import annotations

import integration_bridge

SPEC_NAMES = {
    "Adapter",
    "Config",
    "ServerError",
    "DelegateToFrontendError",
    "IntegrationErrorType",
    "DELEGATE_TO_FRONTEND_CODE",
    "throw_and_delegate_error",
    "create_app",
    "run",
    "get_fresh_access_token",
    "update_provider_key",
    "Contact",
    "ContactTemplate",
    "ContactUpdate",
    "PhoneNumber",
    "CallEvent",
    "CallEventWithIntegrationEntities",
    "IntegrationEntityType",
    "IntegrationEntity",
    "LabeledIntegrationEntity",
    "LoggedIntegrationEntity",
    "Task",
    "FollowUpWithIntegrationEntities",
    "IntegrationDefinedOptions",
    "IntegrationsEvent",
    "OAuth2Credentials",
    "get_publisher",
}


def test_spec_names_are_exported() -> None:
    assert set(integration_bridge.__all__) >= SPEC_NAMES


def test_all_names_exist() -> None:
    for name in integration_bridge.__all__:
        assert hasattr(integration_bridge, name), name


def test_delegate_code() -> None:
    assert integration_bridge.DELEGATE_TO_FRONTEND_CODE == 452
