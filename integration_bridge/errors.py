"""Errors a bridge raises and how they become HTTP answers.

The tree::

    Exception
     └── ServerError(status, message)        any status; >= 400 answers that status
          └── DelegateToFrontendError(type)   status 452, message = IntegrationErrorType
               └── TokenRefreshError(reason)  integration/refresh-error: log in again

`throw_and_delegate_error` is the one place where CRM errors (aiohttp client
errors, SDK errors with ``status``/``code``) are translated into these.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, NoReturn

__all__ = [
    "DELEGATE_TO_FRONTEND_CODE",
    "DelegateToFrontendError",
    "IntegrationErrorType",
    "ServerError",
    "TokenRefreshError",
    "error_status",
    "throw_and_delegate_error",
]

DELEGATE_TO_FRONTEND_CODE = 452

_log = logging.getLogger("integration_bridge.errors")


class IntegrationErrorType(StrEnum):
    """Error types the telephony front end knows how to show to the user."""

    INTEGRATION_INVALID_URL = "integration/invalid-url"
    INTEGRATION_REFRESH_ERROR = "integration/refresh-error"
    INTEGRATION_UNAUTHORIZED_ERROR = "integration/unauthorized-error"
    INTEGRATION_ERROR_FORBIDDEN = "integration/error/forbidden"
    INTEGRATION_ERROR_UNAVAILABLE = "integration/error/unavailable"
    INTEGRATION_ERROR_LICENSE_ACCESS_LIMITED = "integration/error/license-access-limited"
    INTEGRATION_CONFIGURATION_ERROR = "integration/configuration-error"
    ENTITY_ERROR_CONFLICT = "entity/error/conflict"
    ENTITY_NOT_FOUND = "entity/not-found"
    CONTACT_CREATE_ERROR_CONFLICT = "contact/create-error/conflict"
    CONTACT_CREATE_ERROR_EMAIL_CONFLICT = "contact/create-error/email-conflict"
    CONTACT_ERROR_TOO_MANY_NUMBERS = "contact/error/too-many-numbers"
    CONTACT_ERROR_INVALID_PHONE_TYPE = "contact/error/invalid-phone-type"
    CONTACT_ERROR_PHONENUMBER_EXISTS = "contact/error/phonenumber-exists"


class ServerError(Exception):
    """An error with an HTTP status; the message is sent as a text/plain body."""

    def __init__(self, status: int = 500, message: str = "Unknown Error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.message!r})"


class DelegateToFrontendError(ServerError):
    """A CRM error the front end shows to the user: status 452, the type as message."""

    def __init__(self, error_type: IntegrationErrorType | str) -> None:
        super().__init__(DELEGATE_TO_FRONTEND_CODE, str(error_type))
        self.error_type = error_type


class TokenRefreshError(DelegateToFrontendError):
    """The user's token is gone (a refresh was refused, or the CRM said 401): log in again.

    Answers 452 ``integration/refresh-error`` without an error log line, so the
    front end asks the user to connect the CRM again.

    Args:
        reason: why, for the log (the provider's ``error``/``error_description``
            or ``message``; never a token).
        status: the provider's HTTP status, when there was one.
    """

    def __init__(self, reason: str = "", status: int | None = None) -> None:
        super().__init__(IntegrationErrorType.INTEGRATION_REFRESH_ERROR)
        self.reason = reason
        self.provider_status = status

    def __str__(self) -> str:
        return f"{self.message}: {self.reason}" if self.reason else self.message


_DELEGATED: dict[int, IntegrationErrorType] = {
    401: IntegrationErrorType.INTEGRATION_UNAUTHORIZED_ERROR,
    403: IntegrationErrorType.INTEGRATION_ERROR_FORBIDDEN,
    404: IntegrationErrorType.ENTITY_NOT_FOUND,
    409: IntegrationErrorType.ENTITY_ERROR_CONFLICT,
    502: IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE,
    503: IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE,
    504: IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE,
}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def error_status(error: BaseException) -> int | None:
    """The HTTP status carried by an error, or None.

    Looked up in order: an HTTP client error's response status
    (``ClientResponseError.status`` or ``.response.status``), a
    ``ServerError.status``, an attribute ``status``, an attribute ``code``.
    """
    response = getattr(error, "response", None)
    if response is not None:
        status = _as_int(getattr(response, "status", None))
        if status is None:
            status = _as_int(getattr(response, "status_code", None))
        if status is not None:
            return status
    if isinstance(error, ServerError):
        return error.status
    status = _as_int(getattr(error, "status", None))
    if status is not None:
        return status
    return _as_int(getattr(error, "code", None))


def _error_message(error: BaseException) -> str:
    """The most telling message: the CRM's response body when there is one."""
    response = getattr(error, "response", None)
    for attr in ("data", "body", "text"):
        body = getattr(response, attr, None) if response is not None else None
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if isinstance(body, str) and body:
            return body
        if isinstance(body, dict | list) and body:
            import orjson

            return orjson.dumps(body).decode()
    if isinstance(error, ServerError):
        return error.message
    message = getattr(error, "message", None)
    if isinstance(message, str) and message:
        return message
    return str(error) or type(error).__name__


def throw_and_delegate_error(
    error: BaseException,
    source: str,
    api_key: str | None,
    log_message: str | None = None,
    data: Any = None,
    *,
    unauthorized_is_refresh_error: bool = False,
) -> NoReturn:
    """Log a CRM error once and raise the matching `ServerError`.

    Args:
        error: what the CRM call raised.
        source: the bridge method that failed, e.g. ``"getContacts"``.
        api_key: the user's provider key; only its anonymized form is logged.
        log_message: what to log (defaults to the error's message).
        data: extra context for the log line.
        unauthorized_is_refresh_error: a 401 means the token is gone and the
            user must log in again (``integration/refresh-error``), as the
            original's older releases mapped it, instead of
            ``integration/unauthorized-error``.

    Raises:
        DelegateToFrontendError: re-raised unchanged.
        ServerError: 452 with an `IntegrationErrorType` for 401/403/404/409/502-504,
            the error's own status otherwise, 500 when it has none.
    """
    if isinstance(error, DelegateToFrontendError):
        raise error
    from integration_bridge.logging import anonymize_key

    message = _error_message(error)
    status = error_status(error)
    extra: dict[str, Any] = {"status": status}
    if api_key:
        extra["apiKey"] = anonymize_key(api_key)
    if data is not None:
        extra["data"] = data
    # With its traceback (as ``stack``), as the original logs the error's stack.
    exc_info = (type(error), error, error.__traceback__)
    _log.error(
        "[%s] %s: %s",
        source,
        log_message or "Error in bridge call",
        message,
        extra=extra,
        exc_info=exc_info,
    )
    if status is None:
        raise ServerError(500, f"An internal error occurred: {log_message or message}") from error
    delegated = _DELEGATED.get(status)
    if status == 401 and unauthorized_is_refresh_error:
        delegated = IntegrationErrorType.INTEGRATION_REFRESH_ERROR
    if delegated is not None:
        _log.warning(
            "[%s] Delegating crm error to frontend with code %d and type %s",
            source,
            DELEGATE_TO_FRONTEND_CODE,
            delegated.value,
            extra={"apiKey": anonymize_key(api_key)} if api_key else None,
        )
        if delegated is IntegrationErrorType.INTEGRATION_REFRESH_ERROR:
            raise TokenRefreshError(f"{source}: the CRM answered 401", status) from error
        raise DelegateToFrontendError(delegated) from error
    raise ServerError(status, f"{source} ({message})") from error
