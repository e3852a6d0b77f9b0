"""Phone number sanitizing (SPEC 4), with the original framework's outputs."""

from __future__ import annotations

import pytest

from integration_bridge.phone import normalize, region_of_locale, sanitize_phone_number


@pytest.mark.parametrize(
    ("number", "locale", "e164", "localized"),
    [
        ("+49 157 12345678", "de-DE", "+4915712345678", "01571 2345678"),
        ("(415) 555-2671", "en_US", "+14155552671", "(415) 555-2671"),
        ("(415) 555-2671", "de-DE", "+494155552671", "04155 552671"),
        ("+44 20 7946 0958", "en-GB", "+442079460958", "020 7946 0958"),
        ("0211 123456", "en_US", "+10211123456", "0211123456"),
        ("+44 20 7946 0958", "de-DE", "+442079460958", "+44 20 7946 0958"),
        ("+1 415 555 2671", "en-GB", "+14155552671", "+1 415-555-2671"),
    ],
)
def test_examples_of_the_original(number: str, locale: str, e164: str, localized: str) -> None:
    assert sanitize_phone_number("WORK", number, locale) == {
        "label": "WORK",
        "type": "STANDARD",
        "e164": e164,
        "localized": localized,
        "phoneNumber": e164,
    }


def test_key_order() -> None:
    keys = list(sanitize_phone_number("MOBILE", "+49 157 12345678", "de-DE"))
    assert keys == ["label", "type", "e164", "localized", "phoneNumber"]


@pytest.mark.parametrize(
    ("number", "phone_number", "localized"),
    [("12-34", "+491234", "1234"), ("über-äöü 12", "+4912", "12"), ("12345", "+4912345", "12345")],
)
def test_direct_dial_keeps_its_raw_e164(number: str, phone_number: str, localized: str) -> None:
    result = sanitize_phone_number("DIRECTDIAL", number, "de-DE")
    assert result["type"] == "DIRECT_DIAL"
    assert result["e164"] == number
    assert result["phoneNumber"] == phone_number
    assert result["localized"] == localized


def test_six_characters_are_standard() -> None:
    assert sanitize_phone_number("WORK", "123456", "de-DE")["type"] == "STANDARD"


@pytest.mark.parametrize("number", ["garbage", "not a number at all", "++++++"])
def test_unparsable_numbers_stay_raw(number: str) -> None:
    result = sanitize_phone_number("OTHER", number, "de-DE")
    assert result["e164"] == result["localized"] == result["phoneNumber"] == number


def test_any_label_is_kept() -> None:
    assert sanitize_phone_number("Car phone", "+4915712345678", "de-DE")["label"] == "Car phone"


@pytest.mark.parametrize(
    ("locale", "region"),
    [
        ("de-DE", "DE"),
        ("en_US", "US"),
        ("en-gb", "GB"),
        ("fr", "FR"),
        ("", "DE"),
        ("zh-Hant-TW", "TW"),
    ],
)
def test_region_of_locale(locale: str, region: str) -> None:
    assert region_of_locale(locale) == region


def test_normalize_keeps_ascii_letters_digits_underscore_plus() -> None:
    assert normalize("über-äöü 12") == "ber12"  # still a direct dial (<= 5)
    assert normalize("+49 (0) 211_x") == "+490211_x"
    assert normalize("ab 1234") == "ab1234"  # six characters: not a direct dial


def test_results_are_not_shared() -> None:
    first = sanitize_phone_number("WORK", "+4915712345678", "de-DE")
    first["e164"] = "changed"
    assert sanitize_phone_number("WORK", "+4915712345678", "de-DE")["e164"] == "+4915712345678"
