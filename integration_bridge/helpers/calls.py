"""Call-event texts: who called whom, one-line descriptions, CRM comments.

The descriptions, comment subjects, headers and durations match the original
framework's wording and formats (German for locales starting with ``de``,
English otherwise; times in Europe/Berlin).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from integration_bridge.models import CallDirection, CallEvent, CallParticipantType, CallState

__all__ = [
    "DEFAULT_PRODUCT_NAME",
    "CallMembers",
    "call_duration",
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

DEFAULT_PRODUCT_NAME = "CLINQ"
"""The product name in comments when ``PRODUCT_NAME`` is not set."""


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
    """``PRODUCT_NAME`` from the environment, ``CLINQ`` by default (read on every call)."""
    return os.environ.get("PRODUCT_NAME") or DEFAULT_PRODUCT_NAME


def comment_subject(
    state: CallState | str,
    direction: CallDirection | str,
    locale: str = "de-DE",
    html_open: str = "",
    html_close: str = "",
    *,
    product: str | None = None,
) -> str:
    """The subject of a call comment, by state and direction, as the original words it.

    ``Getätigter eingehender Anruf (CLINQ)``, ``Busy outgoing Call (CLINQ)``;
    ``NOT_FOUND`` reads like ``CONNECTED``, as in the original.

    Args:
        state: how the call ended.
        direction: ``IN`` or ``OUT``.
        locale: German for locales starting with ``de``, English otherwise.
        html_open: put in front of the subject (e.g. ``"<strong>"``).
        html_close: put after it (e.g. ``"</strong>"``).
        product: the product name; `product_name()` when None.
    """
    german = _german(locale)
    incoming = direction == CallDirection.IN
    if german:
        moving = "eingehender" if incoming else "ausgehender"
        ending = f"{moving} Anruf ({product or product_name()})"
        lead = {CallState.BUSY: "Nicht angenommener", CallState.MISSED: "Verpasster"}
        subject = f"{lead.get(CallState(state), 'Getätigter')} {ending}"
    else:
        moving = "incoming" if incoming else "outgoing"
        ending = f"{moving} Call ({product or product_name()})"
        lead = {CallState.BUSY: "Busy", CallState.MISSED: "Missed"}
        subject = f"{lead.get(CallState(state), 'Connected')} {ending}"
    return f"{html_open}{subject}{html_close}"


def comment_header(locale: str = "de-DE", *, product: str | None = None) -> str:
    """``<h1>Notizen (CLINQ):</h1>`` (German) or ``<h1>Note (CLINQ):</h1>``."""
    return f"<h1>{'Notizen' if _german(locale) else 'Note'} ({product or product_name()}):</h1>"


def comment_content(note: str, locale: str = "de-DE", *, product: str | None = None) -> str:
    """`comment_header` followed by the note.

    The note is inserted as it is, as in the original: escape it with
    `html.escape` first if your CRM renders it as HTML and it may hold markup.
    """
    return f"{comment_header(locale, product=product)}{note}"


def call_duration(start_time: int, end_time: int, locale: str = "de-DE") -> str:
    """``Dauer: 00:10:51`` (German) or ``Duration: 00:10:51``; times in milliseconds."""
    label = "Dauer" if _german(locale) else "Duration"
    return f"{label}: {format_duration_hms(end_time - start_time)}"
