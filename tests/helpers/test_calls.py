"""Call-event texts (the original's wording), comments and durations."""

from __future__ import annotations

import pytest

from integration_bridge import CallEvent
from integration_bridge.helpers import (
    comment_content,
    comment_header,
    comment_subject,
    format_duration,
    format_duration_hms,
    get_call_members,
    get_text_description_for_call_event,
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


def test_comment_subjects(monkeypatch: pytest.MonkeyPatch) -> None:
    assert comment_subject(event()) == "CLINQ: Eingehender Anruf"
    assert comment_subject(event(state="MISSED"), "en-US") == "CLINQ: Missed call"
    assert comment_subject(event(direction="OUT"), html=True) == (
        "<strong>CLINQ: Ausgehender Anruf</strong>"
    )
    monkeypatch.setenv("PRODUCT_NAME", "sipgate")
    assert comment_subject(event(state="BUSY", direction="OUT"), "en") == (
        "sipgate: Outgoing call (busy)"
    )


def test_comment_header_and_content() -> None:
    assert comment_header(event()) == (
        "CLINQ: Eingehender Anruf\nvon 4922199911122 auf 4921177722233 am 21.1.2024, 11:23:45 Uhr"
    )
    assert comment_content(event(), "en-US").splitlines() == [
        "CLINQ: Incoming call",
        "from 4922199911122 to 4921177722233 on 1/21/2024, 11:23:45 AM",
        "Duration: 00:10:51",
        "Note: testnote01",
    ]
    html = comment_content(event(note="<b>x</b>", state="MISSED"), html=True)
    assert html.startswith("<p><strong>CLINQ: Verpasster Anruf</strong></p>")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "Dauer" not in html
