"""anonymize_key, diff_arrays, logged-entity guards, validate."""

from __future__ import annotations

import pytest

from integration_bridge import (
    Config,
    Contact,
    LoggedIntegrationEntity,
    ServerError,
    anonymize_key,
    diff_arrays,
    is_logged_integration_entity,
    validate,
)


def test_anonymize_key() -> None:
    assert anonymize_key("abcdefghijklmnopqrstuvwxyz0123") == "***uvwxyz0123"
    assert anonymize_key("abcdefghijklmnopqrstuvwxyz") == "***stuvwxyz"
    assert anonymize_key("short") == "***t"
    assert anonymize_key("") == "UNKNOWN"
    assert anonymize_key(None) == "UNKNOWN"


def test_diff_arrays_by_id() -> None:
    first = [{"id": "1"}, {"id": "2", "v": "a"}]
    second = [{"id": "2", "v": "b"}, {"id": "3"}]
    diff = diff_arrays(first, second)
    assert diff.only_first == [{"id": "1"}]
    assert diff.only_second == [{"id": "3"}]
    assert diff.common == [{"id": "2", "v": "a"}]
    assert diff.common_second == [{"id": "2", "v": "b"}]
    by_value = diff_arrays([1, 2], [2, 3], key=lambda n: n)
    assert by_value == ([1], [3], [2], [2])


def test_diff_arrays_with_an_id_function_per_side() -> None:
    logged = [LoggedIntegrationEntity(id="d1", type="deals", source="crm", log_id="l1")]
    wanted = [{"entityId": "d1"}, {"entityId": "d2"}]
    diff = diff_arrays(logged, wanted, lambda e: e.id, lambda w: w["entityId"])
    assert diff.only_first == []
    assert diff.only_second == [{"entityId": "d2"}]
    assert diff.common == logged
    assert diff.common_second == [{"entityId": "d1"}]


def test_logged_entity_guard() -> None:
    assert is_logged_integration_entity({"id": "1", "type": "deals", "source": "x", "logId": "l"})
    assert not is_logged_integration_entity({"id": "1", "type": "deals", "source": "x"})
    assert is_logged_integration_entity(
        LoggedIntegrationEntity(id="1", type="deals", source="x", log_id="l")
    )


def test_validate(caplog: pytest.LogCaptureFixture) -> None:
    config = Config(user_id="u", api_key="key-0123456789abcdef")
    contact = validate(Contact, {"id": "1", "phoneNumbers": []}, config, "Invalid contact")
    assert contact.id == "1"
    with pytest.raises(ServerError) as info:
        validate(Contact, {"phoneNumbers": []}, config, "Invalid contact")
    assert info.value.status == 500
    assert info.value.message.startswith("Invalid contact: id")
    assert caplog.records[-1].getMessage() == f"[validate] {info.value.message}"
    assert getattr(caplog.records[-1], "apiKey", None) == "***abcdef"
    assert "key-0123456789abcdef" not in caplog.text


def test_empty_log_id_is_not_logged() -> None:
    assert not is_logged_integration_entity(
        {"id": "1", "type": "deals", "source": "x", "logId": ""}
    )
