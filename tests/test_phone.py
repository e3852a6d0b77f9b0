"""Phone number sanitizing (SPEC 4), with the original framework's outputs; its memory bounds."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from integration_bridge import Adapter, Config
from integration_bridge import phone as phone_module
from integration_bridge.phone import (
    MAX_PARSED_LENGTH,
    PHONE_MEMO_MAX_BYTES,
    normalize,
    region_of_locale,
    sanitize_phone_number,
)
from tests.support import USER_HEADERS, ClientFactory


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


# --- The original's two edge rules (SPEC 4), as properties ---------------------------------

_LOCALES = ["de-DE", "en-US", "en_GB", "fr-FR", "es-ES", "it-IT", "nl-NL", "de-AT"]
_SEPARATORS = st.sampled_from(["", " ", "-", " - ", "/", "."])
_SHARED_CODES = {
    code: regions
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
    if len(regions) > 1 and "001" not in regions
}
_NUMBER_TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE]


@st.composite
def _written_with_00(draw: st.DrawFn) -> str:
    """``00`` and up to 15 digits, in groups split by what people type between them."""
    groups = draw(st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=4))
    separator = draw(_SEPARATORS)
    return "00" + draw(_SEPARATORS) + separator.join(groups)


@st.composite
def _valid_number_of_a_shared_code(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    """(main region of a country code, a valid number of any region sharing that code)."""
    code = draw(st.sampled_from(sorted(_SHARED_CODES)))
    region = draw(st.sampled_from(_SHARED_CODES[code]))
    example = None
    for number_type in _NUMBER_TYPES:
        example = example or phonenumbers.example_number_for_type(region, number_type)
    assume(example is not None)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=1, max_size=min(4, len(national) - 1)))
    number = phonenumbers.parse(f"+{code}{national[: -len(tail)]}{tail}")
    assume(phonenumbers.is_valid_number(number))
    return phonenumbers.region_code_for_country_code(code), number


@settings(max_examples=300, deadline=None)
@given(number=_written_with_00(), locale=st.sampled_from(_LOCALES))
def test_a_number_written_with_00_is_raw_unless_valid(number: str, locale: str) -> None:
    result = sanitize_phone_number("WORK", number, locale)
    parsed: phonenumbers.PhoneNumber | None
    try:
        parsed = phonenumbers.parse(number, region_of_locale(locale))
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        assert result["phoneNumber"] == phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    else:
        assert result["e164"] == result["localized"] == result["phoneNumber"] == number


@settings(max_examples=100, deadline=None)
@given(pair=_valid_number_of_a_shared_code(), locale=st.sampled_from(_LOCALES))
def test_a_valid_number_written_with_00_parses_where_00_dials_abroad(
    pair: tuple[str, phonenumbers.PhoneNumber], locale: str
) -> None:
    _, number = pair
    region = region_of_locale(locale)
    assume(phonenumbers.country_code_for_region(region) != number.country_code)
    written = f"00 {number.country_code} {number.national_number}"
    result = sanitize_phone_number("WORK", written, locale)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # 00 is the international prefix everywhere in these locales except the US (011).
    assert result["phoneNumber"] == (written if region == "US" else e164)


@settings(max_examples=300, deadline=None)
@given(pair=_valid_number_of_a_shared_code(), spaced=st.booleans())
def test_a_national_number_of_the_callers_code_is_localized_nationally(
    pair: tuple[str, phonenumbers.PhoneNumber], spaced: bool
) -> None:
    main_region, number = pair
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    written = national if spaced else normalize(national)
    result = sanitize_phone_number("MOBILE", written, f"xx-{main_region}")
    assert result["phoneNumber"] == phonenumbers.format_number(number, PhoneNumberFormat.E164)
    assert result["localized"] == national


@settings(max_examples=100, deadline=None)
@given(pair=_valid_number_of_a_shared_code())
def test_the_same_number_written_with_plus_keeps_its_own_region(
    pair: tuple[str, phonenumbers.PhoneNumber],
) -> None:
    main_region, number = pair
    written = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    result = sanitize_phone_number("MOBILE", written, f"xx-{main_region}")
    own = phonenumbers.region_code_for_number(number) == main_region
    style = PhoneNumberFormat.NATIONAL if own else PhoneNumberFormat.INTERNATIONAL
    assert result["localized"] == phonenumbers.format_number(number, style)


@pytest.mark.parametrize(
    ("number", "locale", "phone_number", "localized"),
    [
        ("0049 30 1234567", "en-US", "0049 30 1234567", "0049 30 1234567"),
        ("001 41587266857", "en-GB", "001 41587266857", "001 41587266857"),
        ("001 - 212 53720415", "en-US", "001 - 212 53720415", "001 - 212 53720415"),
        ("0049 30 1234567", "en-GB", "+49301234567", "+49 30 1234567"),
        ("(664) 491-2345", "en-US", "+16644912345", "(664) 491-2345"),
        ("(79) 3777 7836", "en-GB", "+447937777836", "07937 777836"),
        ("+1 664 491 2345", "en-US", "+16644912345", "+1 664-491-2345"),
        ("011 49 30 1234567", "en-US", "+49301234567", "+49 30 1234567"),
    ],
)
def test_edge_rule_examples(number: str, locale: str, phone_number: str, localized: str) -> None:
    result = sanitize_phone_number("WORK", number, locale)
    assert (result["phoneNumber"], result["localized"]) == (phone_number, localized)


# --- Memory that grows with input: overlong numbers not parsed, the memo bounded in bytes.


class OneNumber(Adapter):
    def __init__(self, number: str) -> None:
        self.number = number

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        return [{"id": "1", "phoneNumbers": [{"label": "WORK", "phoneNumber": self.number}]}]


async def test_overlong_crm_numbers_are_not_parsed(make_client: ClientFactory) -> None:
    number = "+49 30 " + "1" * 80
    client = await make_client(OneNumber(number))
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert response.status == 200
    (entry,) = (await response.json())[0]["phoneNumbers"]
    assert entry["e164"] == entry["localized"] == entry["phoneNumber"] == number
    assert (number, "DE") not in phone_module._MEMO


def test_numbers_just_under_the_limit_are_parsed() -> None:
    number = "+49 30 1234567" + " " * (MAX_PARSED_LENGTH - 14)
    assert len(number) == MAX_PARSED_LENGTH
    assert sanitize_phone_number("WORK", number, "de-DE")["e164"] == "+49301234567"


def test_phone_memo_is_bounded_in_bytes() -> None:
    for index in range(15_000):
        sanitize_phone_number("WORK", f"+49 30 {index:08d}{'0' * 40}", "de-DE")
    assert phone_module._MEMO.size <= PHONE_MEMO_MAX_BYTES
    assert len(phone_module._MEMO) < 15_000
