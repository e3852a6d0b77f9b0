"""throw_and_delegate_error and the error tree."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import ClientResponseError, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from integration_bridge import (
    DELEGATE_TO_FRONTEND_CODE,
    DelegateToFrontendError,
    IntegrationErrorType,
    ServerError,
    throw_and_delegate_error,
)

KEY = "secret-provider-key-0123456789"


def client_error(status: int) -> ClientResponseError:
    info = RequestInfo(URL("https://crm.example.com/x"), "GET", CIMultiDictProxy(CIMultiDict()))
    return ClientResponseError(info, (), status=status, message="reason")


class WithResponse(Exception):
    def __init__(self, status: Any, data: Any = None) -> None:
        super().__init__("with response")
        self.response = type("R", (), {"status": status, "data": data})()


class WithStatus(Exception):
    def __init__(self, status: Any) -> None:
        super().__init__("with status")
        self.status = status


class WithCode(Exception):
    def __init__(self, code: Any) -> None:
        super().__init__("with code")
        self.code = code


def raised(error: BaseException, **kwargs: Any) -> ServerError:
    with pytest.raises(ServerError) as info:
        throw_and_delegate_error(error, "getContacts", KEY, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, IntegrationErrorType.INTEGRATION_UNAUTHORIZED_ERROR),
        (403, IntegrationErrorType.INTEGRATION_ERROR_FORBIDDEN),
        (404, IntegrationErrorType.ENTITY_NOT_FOUND),
        (409, IntegrationErrorType.ENTITY_ERROR_CONFLICT),
        (502, IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE),
        (503, IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE),
        (504, IntegrationErrorType.INTEGRATION_ERROR_UNAVAILABLE),
    ],
)
@pytest.mark.parametrize(
    "make", [client_error, WithResponse, WithStatus, WithCode, lambda s: WithStatus(str(s))]
)
def test_delegated_statuses(status: int, error_type: IntegrationErrorType, make: Any) -> None:
    error = raised(make(status))
    assert error.status == DELEGATE_TO_FRONTEND_CODE == 452
    assert error.message == error_type.value


def test_other_status_keeps_it_with_source_and_crm_message() -> None:
    error = raised(WithResponse(422, data={"error": "bad field"}))
    assert error.status == 422
    assert error.message == 'getContacts ({"error":"bad field"})'
    assert raised(client_error(429)).message == "getContacts (reason)"


def test_server_error_status_is_used() -> None:
    error = raised(ServerError(400, "bad"))
    assert (error.status, error.message) == (400, "getContacts (bad)")


def test_no_status_is_500_with_log_message() -> None:
    error = raised(ValueError("oops"))
    assert (error.status, error.message) == (500, "An internal error occurred: oops")
    error = raised(ValueError("oops"), log_message="Could not fetch")
    assert error.message == "An internal error occurred: Could not fetch"
    assert raised(WithCode("ECONNRESET")).status == 500


def test_delegate_error_is_reraised_unchanged_and_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = DelegateToFrontendError(IntegrationErrorType.CONTACT_ERROR_TOO_MANY_NUMBERS)
    with caplog.at_level(logging.DEBUG):
        assert raised(original) is original
    assert caplog.records == []
    assert original.status == 452
    assert original.message == "contact/error/too-many-numbers"


def test_logs_once_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        raised(WithStatus(401))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(errors) == 1
    assert "Delegating crm error to frontend" in warnings[0].getMessage()
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.__dict__)


def test_server_error_defaults() -> None:
    error = ServerError()
    assert (error.status, error.message) == (500, "Unknown Error")
