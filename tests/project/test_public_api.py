"""The package root's public surface, pinned (as httpx's ``test_exported_members``)."""

from __future__ import annotations

import inspect

import integration_bridge

EXPORTED = [
    "DEFAULT_PRODUCT_NAME",
    "DELEGATE_TO_FRONTEND_CODE",
    "MAX_ERROR_BODY",
    "RETRY_COUNT_HEADER",
    "Adapter",
    "ArrayDiff",
    "BridgePublisher",
    "CallDirection",
    "CallEvent",
    "CallEventEntity",
    "CallEventWithIntegrationEntities",
    "CallMembers",
    "CallParticipant",
    "CallParticipantType",
    "CallState",
    "Config",
    "Contact",
    "ContactScope",
    "ContactTemplate",
    "ContactUpdate",
    "CrmClient",
    "CrmRequestError",
    "DealProperties",
    "DelegateToFrontendError",
    "FollowUpWithIntegrationEntities",
    "HttpError",
    "HttpResponse",
    "IntegrationDefinedOption",
    "IntegrationDefinedOptions",
    "IntegrationEntity",
    "IntegrationEntityType",
    "IntegrationErrorType",
    "IntegrationsEvent",
    "IntegrationsEventType",
    "LabeledIntegrationEntity",
    "LoggedIntegrationEntity",
    "OAuth2Client",
    "OAuth2Credentials",
    "OAuthOptions",
    "OrderingKeyPaused",
    "PhoneNumber",
    "PhoneNumberLabel",
    "PhoneNumberType",
    "PublishError",
    "RateLimiter",
    "RelatedEntity",
    "RetryDecider",
    "RetryDecision",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "SettingsError",
    "Task",
    "TokenExchangeStyle",
    "TokenRefreshError",
    "TokenSet",
    "__version__",
    "anonymize_key",
    "build_url",
    "call_duration",
    "comment_content",
    "comment_header",
    "comment_subject",
    "create_app",
    "default_api_key",
    "delete_contact_cache_item",
    "diff_arrays",
    "error_logger",
    "format_duration",
    "format_duration_hms",
    "gdpr_slack_notification_routes",
    "get_call_members",
    "get_contact_cache_item",
    "get_fresh_access_token",
    "get_publisher",
    "get_subdomain",
    "get_text_description_for_call_event",
    "info_logger",
    "is_direct_dial",
    "is_integration_entity",
    "is_logged_integration_entity",
    "iterate_pages",
    "normalize_phone_number",
    "paginate",
    "parse_oauth_options_from_env",
    "parse_phone_number",
    "product_name",
    "request_with_retry",
    "retry_on_status",
    "run",
    "split_api_key",
    "throw_and_delegate_error",
    "update_provider_key",
    "validate",
    "warn_logger",
]
"""Every public name, exactly: adding or dropping one is a decision this list records."""

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


def test_all_is_pinned_exactly() -> None:
    assert integration_bridge.__all__ == EXPORTED


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(integration_bridge).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(EXPORTED) - {"__version__"}


def test_public_functions_and_classes_say_what_they_are() -> None:
    for name in EXPORTED:
        value = getattr(integration_bridge, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), name
