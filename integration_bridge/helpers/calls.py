"""Call-event texts: who called whom, one-line descriptions, CRM comments.

The one-line descriptions match the original framework's wording and date
formats (German for locales starting with ``de``, English otherwise; times in
Europe/Berlin).
"""

from __future__ import annotations

import os
from datetime import datetime
from html import escape
from typing import NamedTuple
from zoneinfo import ZoneInfo

from integration_bridge.models import CallDirection, CallEvent, CallParticipantType, CallState

__all__ = [
    "CallMembers",
    "comment_content",
    "comment_header",
    "comment_subject",
    "format_duration",
    "format_duration_hms",
    "get_call_members",
    "get_text_description_for_call_event",
    "product_name",
]

BERLIN = ZoneInfo("Europe/Berlin")


class CallMembers(NamedTuple):
    """The caller's and the callee's numbers (None when a participant is missing)."""

    from_: str | None
    to: str | None


def get_call_members(event: CallEvent) -> CallMembers:
    """From and to, by the call's direction."""
    local = next((p for p in event.participants if p.type == CallParticipantType.LOCAL), None)
    remote = next((p for p in event.participants if p.type == CallParticipantType.REMOTE), None)
    local_number = local.phone_number if local else None
    remote_number = remote.phone_number if remote else None
    if event.direction == CallDirection.IN:
        return CallMembers(remote_number, local_number)
    return CallMembers(local_number, remote_number)


def _german(locale: str) -> bool:
    return locale.lower().startswith("de")


def _js_number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _duration_ms(event: CallEvent) -> int:
    return event.end_time - event.start_time if event.end_time else 0


def format_duration(milliseconds: float, locale: str = "de-DE") -> str:
    """``m:ss Minuten`` (German) or ``m:ss minutes``, as the original formats it."""
    minutes = int(milliseconds // 60000)
    seconds = _js_number((milliseconds / 1000) % 60).rjust(2, "0")[:2]
    return f"{minutes}:{seconds} {'Minuten' if _german(locale) else 'minutes'}"


def format_duration_hms(milliseconds: float) -> str:
    """``HH:MM:SS`` of a duration."""
    total = max(0, int(milliseconds // 1000))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _local_time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, BERLIN)


def _date_text(milliseconds: int, locale: str) -> str:
    moment = _local_time(milliseconds)
    if _german(locale):
        return f"{moment.day}.{moment.month}.{moment.year}, {moment:%H:%M:%S}"
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S} {suffix}"


def _parties(event: CallEvent, locale: str) -> str:
    members = get_call_members(event)
    words = ("von", "auf") if _german(locale) else ("from", "to")
    parts = [f"{words[0]} {members.from_}" if members.from_ else ""]
    parts.append(f"{words[1]} {members.to}" if members.to else "")
    return " ".join(part for part in parts if part)


def get_text_description_for_call_event(event: CallEvent, locale: str = "de-DE") -> str:
    """One line: answered or not, direction, from/to, date and time, duration.

    ``Angenommener eingehender Anruf von 4922199911122 auf 4921177722233 am
    21.1.2024, 11:23:45 Uhr, Dauer: 10:51 Minuten.``
    """
    connected = event.state == CallState.CONNECTED
    duration = format_duration(_duration_ms(event), locale)
    parties = _parties(event, locale)
    date = _date_text(event.start_time, locale)
    if _german(locale):
        state = "Angenommener" if connected else "Nicht angenommener"
        direction = "eingehender" if event.direction == CallDirection.IN else "ausgehender"
        tail = f", Dauer: {duration}" if connected else ""
        return f"{state} {direction} Anruf {parties} am {date} Uhr{tail}."
    state = "Answered" if connected else "Unanswered"
    direction = "incoming" if event.direction == CallDirection.IN else "outgoing"
    tail = f", duration: {duration}" if connected else ""
    return f"{state} {direction} call {parties} on {date}{tail}."


def product_name() -> str:
    """``PRODUCT_NAME`` from the environment, ``CLINQ`` by default."""
    return os.environ.get("PRODUCT_NAME") or "CLINQ"


_SUBJECTS = {
    # (german, direction, state) -> subject
    (True, CallDirection.IN, CallState.CONNECTED): "Eingehender Anruf",
    (True, CallDirection.OUT, CallState.CONNECTED): "Ausgehender Anruf",
    (True, CallDirection.IN, CallState.MISSED): "Verpasster Anruf",
    (True, CallDirection.OUT, CallState.MISSED): "Nicht angenommener Anruf",
    (True, CallDirection.IN, CallState.BUSY): "Verpasster Anruf (besetzt)",
    (True, CallDirection.OUT, CallState.BUSY): "Ausgehender Anruf (besetzt)",
    (True, CallDirection.IN, CallState.NOT_FOUND): "Verpasster Anruf",
    (True, CallDirection.OUT, CallState.NOT_FOUND): "Anruf nicht zustande gekommen",
    (False, CallDirection.IN, CallState.CONNECTED): "Incoming call",
    (False, CallDirection.OUT, CallState.CONNECTED): "Outgoing call",
    (False, CallDirection.IN, CallState.MISSED): "Missed call",
    (False, CallDirection.OUT, CallState.MISSED): "Unanswered call",
    (False, CallDirection.IN, CallState.BUSY): "Missed call (busy)",
    (False, CallDirection.OUT, CallState.BUSY): "Outgoing call (busy)",
    (False, CallDirection.IN, CallState.NOT_FOUND): "Missed call",
    (False, CallDirection.OUT, CallState.NOT_FOUND): "Call not connected",
}


def comment_subject(
    event: CallEvent, locale: str = "de-DE", *, html: bool = False, product: str | None = None
) -> str:
    """``CLINQ: Eingehender Anruf`` by state and direction; ``<strong>`` wrapped with ``html``."""
    subject = (
        f"{product or product_name()}: {_SUBJECTS[(_german(locale), event.direction, event.state)]}"
    )
    return f"<strong>{escape(subject)}</strong>" if html else subject


def comment_header(
    event: CallEvent, locale: str = "de-DE", *, html: bool = False, product: str | None = None
) -> str:
    """The subject, then who called whom and when (one line, or HTML paragraphs)."""
    date = _date_text(event.start_time, locale)
    when = f"am {date} Uhr" if _german(locale) else f"on {date}"
    line = f"{_parties(event, locale)} {when}".strip()
    subject = comment_subject(event, locale, html=html, product=product)
    if html:
        return f"<p>{subject}</p><p>{escape(line)}</p>"
    return f"{subject}\n{line}"


def comment_content(
    event: CallEvent, locale: str = "de-DE", *, html: bool = False, product: str | None = None
) -> str:
    """Header, duration (``HH:MM:SS``, for answered calls) and the note."""
    parts = [comment_header(event, locale, html=html, product=product)]
    if event.state == CallState.CONNECTED:
        label = "Dauer" if _german(locale) else "Duration"
        duration = f"{label}: {format_duration_hms(_duration_ms(event))}"
        parts.append(f"<p>{escape(duration)}</p>" if html else duration)
    if event.note:
        label = "Notiz" if _german(locale) else "Note"
        note = f"{label}: {event.note}"
        parts.append(f"<p>{escape(note)}</p>" if html else note)
    return "".join(parts) if html else "\n".join(parts)
