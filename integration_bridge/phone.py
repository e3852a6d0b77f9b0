"""Phone number sanitizing: type, E.164 and localized forms (pure, memoized).

The memo is bounded in bytes (`PHONE_MEMO_MAX_BYTES`), and numbers longer than
`MAX_PARSED_LENGTH` characters are never parsed (raw in all three fields): a
caller sending megabyte-long numbers can neither hold memory nor CPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumberFormat

from integration_bridge.memo import ByteBoundedLRU
from integration_bridge.models import PhoneNumber

__all__ = [
    "MAX_PARSED_LENGTH",
    "PHONE_MEMO_MAX_BYTES",
    "is_direct_dial",
    "normalize",
    "normalize_phone_number",
    "parse_phone_number",
    "region_of_locale",
    "sanitize_phone_number",
]

MAX_PARSED_LENGTH = 64
"""Longer numbers are not parsed: their three forms are the raw number (SPEC 3.5)."""

PHONE_MEMO_MAX_BYTES = 4 * 1024 * 1024
"""Memory for memoized parse results (about 16,000 numbers)."""

_Formats = tuple[str, str, str] | tuple[()]
_MEMO: ByteBoundedLRU[tuple[str, str], _Formats] = ByteBoundedLRU(PHONE_MEMO_MAX_BYTES)

# Keep every compiled metadata pattern instead of recompiling those that fell out
# of the re module's small cache (libphonenumber's own switch for applications
# that see numbers of many regions): about 10% of a cold list's parsing time.
phonenumbers.enable_pattern_cache()

_DIRECT_DIAL_MAX = 5
_NOT_KEPT = re.compile(r"[^A-Za-z0-9_+]")
_DEFAULT_REGION = "DE"


def normalize(number: str) -> str:
    """The number without anything but ASCII letters, digits, ``_`` and ``+``."""
    return _NOT_KEPT.sub("", number)


def is_direct_dial(number: str) -> bool:
    """A short internal extension: at most 5 characters once normalized."""
    return len(normalize(number)) <= _DIRECT_DIAL_MAX


def region_of_locale(locale: str) -> str:
    """``de-DE`` → ``DE``, ``en_US`` → ``US``; a bare ``fr`` → ``FR``; empty → ``DE``."""
    part = re.split(r"[-_]", locale)[-1].strip() if locale else ""
    return part.upper() or _DEFAULT_REGION


_WRITTEN_WITH_00 = re.compile(r"^[^0-9+]*00")


def _formats(number: str, region: str) -> tuple[str, str, str] | None:
    """`_parse` memoized; None for overlong numbers without parsing them."""
    if len(number) > MAX_PARSED_LENGTH:
        return None
    key = (number, region)
    found = _MEMO.get(key)
    if found is None:
        result = _parse(number, region)
        found = () if result is None else result
        _MEMO.put(key, found, _entry_bytes(number, region, found))
    return found or None


def _entry_bytes(number: str, region: str, found: _Formats) -> int:
    """What a memo entry is charged: its strings, the region included, and the tuples."""
    return len(number) + len(region) + sum(len(part) for part in found) + 150


def unknown_numbers(numbers: Iterable[str], region: str) -> list[str]:
    """The distinct numbers the memo does not hold for ``region`` (overlong ones left out)."""
    unknown: dict[str, None] = {}
    for number in numbers:
        if len(number) <= MAX_PARSED_LENGTH and (number, region) not in _MEMO:
            unknown[number] = None
    return list(unknown)


def parse_numbers(numbers: list[str], region: str) -> list[_Formats]:
    """`_parse` for many numbers (what a worker process runs); ``()`` for a failure."""
    return [_parse(number, region) or () for number in numbers]


def remember(numbers: list[str], region: str, results: list[_Formats]) -> None:
    """Keep results of `parse_numbers` in the memo, as `_formats` would have."""
    for number, found in zip(numbers, results, strict=True):
        _MEMO.put((number, region), found, _entry_bytes(number, region, found))


def _parse(number: str, region: str) -> tuple[str, str, str] | None:
    """(E.164, localized, number's region) or None when the number does not parse.

    Two edge rules make the answers the original's (awesome-phonenumber), SPEC 4:
    a number written with ``00`` that is not a valid number is a parse failure
    (libphonenumber would read ``0049 30 1234567`` in US as ``+10049301234567``),
    and a number written in national form is localized nationally whenever its
    country code is the caller region's, even where libphonenumber places it in a
    dependent region sharing that code (``(664) 491-2345`` in US is Montserrat).
    """
    try:
        parsed = phonenumbers.parse(number, region, keep_raw_input=True)
    except NumberParseException:
        return None
    if _WRITTEN_WITH_00.match(number) and not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    country_code = parsed.country_code or 0
    number_region = phonenumbers.region_code_for_number(
        parsed
    ) or phonenumbers.region_code_for_country_code(country_code)
    national_form = parsed.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    local = number_region == region or (
        national_form and country_code == phonenumbers.country_code_for_region(region)
    )
    style = PhoneNumberFormat.NATIONAL if local else PhoneNumberFormat.INTERNATIONAL
    return e164, phonenumbers.format_number(parsed, style), number_region


def sanitize_phone_number(label: str, number: str, locale: str) -> dict[str, str]:
    """``{label, type, e164, localized, phoneNumber}`` for one number, as the original does.

    Args:
        label: the number's label (WORK, MOBILE, ... or any string).
        number: the number as the CRM holds it.
        locale: the caller's locale; its region is the default for national numbers.
    """
    direct_dial = is_direct_dial(number)
    formats = _formats(number, region_of_locale(locale))
    if formats is None:
        e164 = localized = phone_number = number
    else:
        phone_number, localized, _ = formats
        e164 = number if direct_dial else phone_number
    return {
        "label": label,
        "type": "DIRECT_DIAL" if direct_dial else "STANDARD",
        "e164": e164,
        "localized": localized,
        "phoneNumber": phone_number,
    }


def normalize_phone_number(phone_number: str) -> str:
    """The original's ``normalizePhoneNumber``: only ASCII letters, digits, ``_`` and ``+`` kept."""
    return normalize(phone_number)


def parse_phone_number(
    phone_number: str | PhoneNumber, locale: str, ignore_region: bool = False
) -> dict[str, str]:
    """One number as the framework sanitizes contacts (the original's ``parsePhoneNumber``).

    Args:
        phone_number: the number as written, or a `PhoneNumber` (its label is kept;
            a plain string gets the label ``""``).
        locale: the caller's locale (``de-DE``, ``en_US``); its region reads
            national numbers.
        ignore_region: localize in national format even when the number belongs
            to another region than the locale's.

    Returns:
        ``{label, type, e164, localized, phoneNumber}``, as in GET /contacts.
    """
    if isinstance(phone_number, PhoneNumber):
        label, number = phone_number.label, phone_number.phone_number
    else:
        label, number = "", phone_number
    result = sanitize_phone_number(label, number, locale)
    formats = _formats(number, region_of_locale(locale)) if ignore_region else None
    if formats is not None:
        parsed = phonenumbers.parse(formats[0])
        result["localized"] = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    return result
