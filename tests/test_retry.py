"""The one retry policy shared by the CRM helpers and the publisher."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from integration_bridge.helpers import RetryDecision, RetryPolicy, retry_on_status
from integration_bridge.pubsub import BatchingPublisher
from integration_bridge.retry import RETRYABLE_STATUSES


def status_error(status: int, retry_after: str | None = None) -> aiohttp.ClientResponseError:
    headers = {"Retry-After": retry_after} if retry_after else None
    return aiohttp.ClientResponseError(
        request_info=None,  # type: ignore[arg-type]
        history=(),
        status=status,
        headers=headers,  # type: ignore[arg-type]
    )


def test_retryable_statuses_are_one_set() -> None:
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRYABLE_STATUSES


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_back_off_exponentially(status: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=1.5)
    assert [policy(status_error(status), n) for n in range(4)] == [
        RetryDecision(True, 0.5),
        RetryDecision(True, 1.0),
        RetryDecision(True, 1.5),
        RetryDecision(False),
    ]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert RetryPolicy()(status_error(status), 0) == RetryDecision(False)


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=5.0)
    assert policy(status_error(429, "2"), 0) == RetryDecision(True, 2.0)
    assert policy(status_error(429, "60"), 0) == RetryDecision(True, 5.0)


def test_errors_another_try_cannot_fix_are_not_retried() -> None:
    key = ConnectionKey("crm.example", 443, True, True, None, None, None)
    certificate = aiohttp.ClientConnectorCertificateError(key, ValueError("self-signed"))
    for error in (aiohttp.InvalidUrlClientError("/api/v1/contacts"), certificate, ValueError()):
        assert RetryPolicy()(error, 0) == RetryDecision(False)
    for retryable in (aiohttp.ServerDisconnectedError(), TimeoutError(), ConnectionResetError()):
        assert RetryPolicy(base_delay=0.25)(retryable, 0) == RetryDecision(True, 0.25)


def test_jitter_waits_half_to_all_of_the_delay() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter=True)
    delays = {policy(status_error(503), 0).delay for _ in range(200)}
    assert all(0.5 <= delay <= 1.0 for delay in delays)
    assert len(delays) > 100


def test_unbounded_retries_are_for_callers_with_a_deadline() -> None:
    policy = RetryPolicy(max_retries=None, base_delay=0.1, max_delay=0.4)
    assert policy(status_error(503), 50) == RetryDecision(True, 0.4)


def test_retry_on_status_and_the_publisher_use_the_policy() -> None:
    assert retry_on_status(max_retries=2) == RetryPolicy(max_retries=2)
    publisher = BatchingPublisher(object(), initial_backoff=0.2, max_backoff=3.0)
    assert publisher.retry == RetryPolicy(
        max_retries=None, base_delay=0.2, max_delay=3.0, jitter=True
    )
