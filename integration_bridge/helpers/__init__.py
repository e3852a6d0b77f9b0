"""Helpers for bridge authors: HTTP (pagination, retries, rate limits), OAuth2, call texts."""

from integration_bridge.helpers.calls import (
    DEFAULT_PRODUCT_NAME,
    CallMembers,
    call_duration,
    comment_content,
    comment_header,
    comment_subject,
    format_duration,
    format_duration_hms,
    get_call_members,
    get_text_description_for_call_event,
    product_name,
)
from integration_bridge.helpers.crm import CrmClient, CrmRequestError
from integration_bridge.helpers.gdpr import gdpr_slack_notification_routes
from integration_bridge.helpers.http import (
    MAX_ERROR_BODY,
    RETRY_COUNT_HEADER,
    HttpError,
    HttpResponse,
    RateLimiter,
    RetryDecider,
    RetryDecision,
    RetryPolicy,
    build_url,
    iterate_pages,
    paginate,
    request_with_retry,
    retry_on_status,
)
from integration_bridge.helpers.loggers import error_logger, info_logger, warn_logger
from integration_bridge.helpers.misc import (
    ArrayDiff,
    diff_arrays,
    get_subdomain,
    is_integration_entity,
    validate,
)
from integration_bridge.helpers.oauth2 import (
    OAuth2Client,
    TokenExchangeStyle,
    TokenSet,
    default_api_key,
    split_api_key,
)
from integration_bridge.helpers.oauth_env import OAuthOptions, parse_oauth_options_from_env
from integration_bridge.logging import anonymize_key
from integration_bridge.models import is_logged_integration_entity

__all__ = [
    "DEFAULT_PRODUCT_NAME",
    "MAX_ERROR_BODY",
    "RETRY_COUNT_HEADER",
    "ArrayDiff",
    "CallMembers",
    "CrmClient",
    "CrmRequestError",
    "HttpError",
    "HttpResponse",
    "OAuth2Client",
    "OAuthOptions",
    "RateLimiter",
    "RetryDecider",
    "RetryDecision",
    "RetryPolicy",
    "TokenExchangeStyle",
    "TokenSet",
    "anonymize_key",
    "build_url",
    "call_duration",
    "comment_content",
    "comment_header",
    "comment_subject",
    "default_api_key",
    "diff_arrays",
    "error_logger",
    "format_duration",
    "format_duration_hms",
    "gdpr_slack_notification_routes",
    "get_call_members",
    "get_subdomain",
    "get_text_description_for_call_event",
    "info_logger",
    "is_integration_entity",
    "is_logged_integration_entity",
    "iterate_pages",
    "paginate",
    "parse_oauth_options_from_env",
    "product_name",
    "request_with_retry",
    "retry_on_status",
    "split_api_key",
    "validate",
    "warn_logger",
]
