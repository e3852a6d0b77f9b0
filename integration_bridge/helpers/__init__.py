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
from integration_bridge.helpers.http import (
    RETRY_COUNT_HEADER,
    HttpError,
    HttpResponse,
    RateLimiter,
    RetryDecider,
    RetryDecision,
    build_url,
    iterate_pages,
    paginate,
    request_with_retry,
    retry_on_status,
)
from integration_bridge.helpers.misc import ArrayDiff, diff_arrays, validate
from integration_bridge.helpers.oauth2 import (
    OAuth2Client,
    TokenExchangeStyle,
    TokenSet,
    default_api_key,
    split_api_key,
)
from integration_bridge.logging import anonymize_key
from integration_bridge.models import is_logged_integration_entity

__all__ = [
    "DEFAULT_PRODUCT_NAME",
    "RETRY_COUNT_HEADER",
    "ArrayDiff",
    "CallMembers",
    "HttpError",
    "HttpResponse",
    "OAuth2Client",
    "RateLimiter",
    "RetryDecider",
    "RetryDecision",
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
    "format_duration",
    "format_duration_hms",
    "get_call_members",
    "get_text_description_for_call_event",
    "is_logged_integration_entity",
    "iterate_pages",
    "paginate",
    "product_name",
    "request_with_retry",
    "retry_on_status",
    "split_api_key",
    "validate",
]
