"""Call-event texts (the original's wording), comments and durations."""

from __future__ import annotations

import pytest

from integration_bridge import CallDirection, CallEvent, CallState
from integration_bridge.helpers import (
    DEFAULT_PRODUCT_NAME,
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


def event(**changes: object) -> CallEvent:
    base: dict[str, object] = {
        "id": "callEventId123",
        "startTime": 1705832625000,
        "endTime": 1705833276000,
        "direction": "IN",
        "participants": [
            {"type": "local", "phoneNumber": "4921177722233"},
            {"type": "remote", "phoneNumber": "4922199911122"},
        ],
        "note": "testnote01",
        "state": "CONNECTED",
    }
    return CallEvent.model_validate({**base, **changes})


def test_members_by_direction() -> None:
    assert get_call_members(event()) == ("4922199911122", "4921177722233")
    assert get_call_members(event(direction="OUT")) == ("4921177722233", "4922199911122")


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        (
            {},
            "Angenommener eingehender Anruf von 4922199911122 auf 4921177722233 am "
            "21.1.2024, 11:23:45 Uhr, Dauer: 10:51 Minuten.",
        ),
        (
            {"direction": "OUT"},
            "Angenommener ausgehender Anruf von 4921177722233 auf 4922199911122 am "
            "21.1.2024, 11:23:45 Uhr, Dauer: 10:51 Minuten.",
        ),
        (
            {"state": "MISSED"},
            "Nicht angenommener eingehender Anruf von 4922199911122 auf 4921177722233 am "
            "21.1.2024, 11:23:45 Uhr.",
        ),
        (
            {"state": "BUSY", "direction": "OUT"},
            "Nicht angenommener ausgehender Anruf von 4921177722233 auf 4922199911122 am "
            "21.1.2024, 11:23:45 Uhr.",
        ),
    ],
)
def test_german_descriptions(changes: dict[str, object], text: str) -> None:
    assert get_text_description_for_call_event(event(**changes)) == text


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        (
            {},
            "Answered incoming call from 4922199911122 to 4921177722233 on "
            "1/21/2024, 11:23:45 AM, duration: 10:51 minutes.",
        ),
        (
            {"state": "NOT_FOUND", "direction": "OUT"},
            "Unanswered outgoing call from 4921177722233 to 4922199911122 on "
            "1/21/2024, 11:23:45 AM.",
        ),
    ],
)
def test_english_descriptions(changes: dict[str, object], text: str) -> None:
    assert get_text_description_for_call_event(event(**changes), "en-US") == text


@pytest.mark.parametrize(
    ("start", "german", "english"),
    [
        # The last Sunday of March 2024: 01:59:59 UTC is 03:59:59 summer time.
        (1711850399000, "31.3.2024, 03:59:59", "3/31/2024, 3:59:59 AM"),
        (1711846799000, "31.3.2024, 01:59:59", "3/31/2024, 1:59:59 AM"),
        # The last Sunday of October 2024: back to winter time.
        (1729990800000, "27.10.2024, 02:00:00", "10/27/2024, 2:00:00 AM"),
        (1729987200000, "27.10.2024, 02:00:00", "10/27/2024, 2:00:00 AM"),
        (1704063600000, "1.1.2024, 00:00:00", "1/1/2024, 12:00:00 AM"),
        (1704110400000, "1.1.2024, 13:00:00", "1/1/2024, 1:00:00 PM"),
    ],
)
def test_dates_in_berlin_across_dst(start: int, german: str, english: str) -> None:
    missed = event(startTime=start, endTime=None, state="MISSED")
    assert f"am {german} Uhr." in get_text_description_for_call_event(missed, "de-DE")
    assert f"on {english}." in get_text_description_for_call_event(missed, "en_GB")


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(0, "0:00"), (5000, "0:05"), (651000, "10:51"), (5500, "0:5."), (3_600_000, "60:00")],
)
def test_duration_like_the_original(milliseconds: int, text: str) -> None:
    assert format_duration(milliseconds, "de-DE") == f"{text} Minuten"
    assert format_duration(milliseconds, "en") == f"{text} minutes"


def test_duration_hms() -> None:
    assert format_duration_hms(651000) == "00:10:51"
    assert format_duration_hms(3_723_000) == "01:02:03"
    assert format_duration_hms(-5) == "00:00:00"


@pytest.mark.parametrize(
    ("state", "direction", "german", "english"),
    [
        ("CONNECTED", "IN", "Getätigter eingehender Anruf", "Connected incoming Call"),
        ("CONNECTED", "OUT", "Getätigter ausgehender Anruf", "Connected outgoing Call"),
        ("BUSY", "IN", "Nicht angenommener eingehender Anruf", "Busy incoming Call"),
        ("BUSY", "OUT", "Nicht angenommener ausgehender Anruf", "Busy outgoing Call"),
        ("MISSED", "IN", "Verpasster eingehender Anruf", "Missed incoming Call"),
        ("MISSED", "OUT", "Verpasster ausgehender Anruf", "Missed outgoing Call"),
        ("NOT_FOUND", "IN", "Getätigter eingehender Anruf", "Connected incoming Call"),
    ],
)
def test_comment_subjects_as_the_original(
    monkeypatch: pytest.MonkeyPatch, state: str, direction: str, german: str, english: str
) -> None:
    monkeypatch.delenv("PRODUCT_NAME", raising=False)
    assert comment_subject(CallState(state), CallDirection(direction)) == f"{german} (CLINQ)"
    assert comment_subject(state, direction, "en-US") == f"{english} (CLINQ)"


def test_comment_subject_html_and_product_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCT_NAME", raising=False)
    assert product_name() == DEFAULT_PRODUCT_NAME == "CLINQ"
    assert comment_subject("MISSED", "IN", "de-DE", "<strong>", "</strong>") == (
        "<strong>Verpasster eingehender Anruf (CLINQ)</strong>"
    )
    monkeypatch.setenv("PRODUCT_NAME", "sipgate")
    assert comment_subject("BUSY", "OUT", "en") == "Busy outgoing Call (sipgate)"
    assert comment_subject("BUSY", "OUT", "en", product="Acme") == "Busy outgoing Call (Acme)"


def test_comment_header_content_and_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCT_NAME", raising=False)
    assert comment_header("de-DE") == "<h1>Notizen (CLINQ):</h1>"
    assert comment_header("en-US") == "<h1>Note (CLINQ):</h1>"
    assert comment_content("Rückruf morgen", "de") == "<h1>Notizen (CLINQ):</h1>Rückruf morgen"
    monkeypatch.setenv("PRODUCT_NAME", "sipgate")
    assert comment_content("call back", "en-GB") == "<h1>Note (sipgate):</h1>call back"
    start = event().start_time
    assert call_duration(start, start + 651_000, "de-DE") == "Dauer: 00:10:51"
    assert call_duration(start, start + 3_723_000, "en-US") == "Duration: 01:02:03"
