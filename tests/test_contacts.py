"""Contact validation and sanitizing (SPEC 4 and 5), with properties that hold for any input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_bridge import Contact, IntegrationEntityType, ServerError
from integration_bridge.contacts import (
    compose_name,
    contact_to_dict,
    prepare_contacts,
    sanitize_contact,
    validate_contact,
    validate_contacts,
)
from integration_bridge.phone import sanitize_phone_number
from tests.support import BOUNDED


def raw(**fields: Any) -> dict[str, Any]:
    return {"id": "1", "phoneNumbers": [], **fields}


@pytest.mark.parametrize(
    ("name", "first", "last", "expected"),
    [
        ("Given", "Ada", "Lovelace", "Given"),
        ("", "Ada", "Lovelace", ""),
        (None, "Ada", "Lovelace", "Ada Lovelace"),
        (None, "Ada", None, "Ada"),
        (None, "", "Lovelace", "Lovelace"),
        (None, None, None, None),
        (None, "", "", None),
    ],
)
def test_name_composition(
    name: str | None, first: str | None, last: str | None, expected: str | None
) -> None:
    assert compose_name(name, first, last) == expected
    contact = sanitize_contact(raw(name=name, firstName=first, lastName=last), "de-DE")
    assert contact["name"] == expected


def test_relates_to_duplicates_are_removed_in_order() -> None:
    deal = {"id": "d1", "type": "deals", "source": "CRM", "label": "Deal"}
    company = {"id": "c1", "type": "companies", "source": "CRM", "label": "Co"}
    contact = sanitize_contact(raw(relatesTo=[deal, company, dict(deal), company]), "de-DE")
    assert contact["relatesTo"] == [deal, company]
    assert "relatesTo" not in sanitize_contact(raw(), "de-DE")


def test_sanitize_keeps_unknown_fields_and_order() -> None:
    contact = sanitize_contact(
        {"custom": 1, "id": "1", "phoneNumbers": [{"label": "WORK", "phoneNumber": "12"}]},
        "en_US",
    )
    assert list(contact) == ["custom", "id", "phoneNumbers", "name"]
    assert contact["phoneNumbers"][0]["type"] == "DIRECT_DIAL"
    assert contact["phoneNumbers"][0]["phoneNumber"] == "+112"


def test_validate_drops_unknown_fields_and_fills_nullable_ones() -> None:
    relates = {"id": "d1", "type": "deals", "source": "CRM", "label": "Deal", "extra": 1}
    [contact] = validate_contacts([raw(secret="x", firstName="Ada", relatesTo=[relates])])
    assert contact == {
        "id": "1",
        "name": None,
        "firstName": "Ada",
        "lastName": None,
        "email": None,
        "organization": None,
        "contactUrl": None,
        "avatarUrl": None,
        "phoneNumbers": [],
        "relatesTo": [{"id": "d1", "type": "deals", "source": "CRM", "label": "Deal"}],
    }


def test_validate_accepts_models_and_snake_case() -> None:
    model = Contact(id="m", phone_numbers=[], readonly=True)
    snake = {"id": "s", "first_name": "Ada", "phone_numbers": [], "scope": "SHARED"}
    contacts = validate_contacts([model, snake])
    assert contacts[0]["readonly"] is True
    assert contacts[1]["firstName"] == "Ada" and contacts[1]["scope"] == "SHARED"
    assert "readonly" not in contacts[1]


@pytest.mark.parametrize(
    "data",
    [
        [{"id": "1"}],
        [{"phoneNumbers": []}],
        [raw(type="planets")],
        [raw(phoneNumbers=[{"label": "WORK"}])],
        {"id": "1"},
        None,
    ],
)
def test_invalid_lists_are_500(data: Any) -> None:
    with pytest.raises(ServerError) as info:
        validate_contacts(data)
    assert info.value.status == 500
    assert info.value.message.startswith("Invalid contacts received: ")


def test_prepare_validates_then_sanitizes() -> None:
    numbers = [{"label": "MOBILE", "phoneNumber": "+49 157 12345678"}]
    [contact] = prepare_contacts([raw(firstName="Ada", phoneNumbers=numbers, x=1)], "de-DE")
    assert "x" not in contact
    assert contact["name"] == "Ada"
    assert contact["phoneNumbers"][0]["localized"] == "01571 2345678"


def test_validate_single_contact_message() -> None:
    with pytest.raises(ServerError) as info:
        validate_contact({"name": "no id"}, "Invalid contact returned from bridge")
    assert info.value.status == 500
    assert info.value.message.startswith("Invalid contact returned from bridge: ")


def test_contact_to_dict_camel_cases_known_fields_only() -> None:
    assert contact_to_dict({"first_name": "Ada", "custom_field": 1, "phoneNumbers": []}) == {
        "firstName": "Ada",
        "custom_field": 1,
        "phoneNumbers": [],
    }
    assert contact_to_dict(Contact(id="1", phone_numbers=[]))["avatarUrl"] is None


# --- Hypothesis properties: sanitizing holds for any contact and locale. The oracles are
# written from SPEC section 4, not from the code under test.

LOCALES = st.one_of(
    st.sampled_from(["de-DE", "en-US", "en_GB", "fr", "de_AT", "en-CA", "", "x", "-", "de-"]),
    st.text(max_size=12),
)

PHONE_LIKE = st.one_of(
    st.from_regex(r"\A(\+|00)?[0-9 ()/.\-]{0,24}\Z"),
    st.from_regex(r"\A\+?[0-9]{1,20}( ?(ext\.?|x) ?[0-9]{1,5})?\Z"),
    st.text(max_size=30),
    st.text(alphabet="0123456789+", min_size=60, max_size=80),  # around the 64 character cap
)

NULLABLE_TEXT = st.none() | st.text(max_size=20)

PHONE_ENTRY = st.fixed_dictionaries(
    {"label": st.sampled_from(["WORK", "MOBILE", "HOME", "OTHER"]) | st.text(max_size=10)},
    optional={"phoneNumber": PHONE_LIKE},
)

RELATED = st.fixed_dictionaries(
    {
        "id": st.text(max_size=5),
        "type": st.sampled_from([item.value for item in IntegrationEntityType]),
        "source": st.sampled_from(["CRM", "OTHER"]),
    },
    optional={"label": st.text(max_size=5)},
)

CONTACT: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"id": st.text(max_size=10), "phoneNumbers": st.lists(PHONE_ENTRY, max_size=4)},
    optional={
        "name": NULLABLE_TEXT,
        "firstName": NULLABLE_TEXT,
        "lastName": NULLABLE_TEXT,
        "email": NULLABLE_TEXT,
        "organization": NULLABLE_TEXT,
        "relatesTo": st.lists(RELATED, max_size=4),
        "somethingUnknown": st.integers() | st.text(max_size=5),
    },
)


def _with_numbers(contact: dict[str, Any]) -> dict[str, Any]:
    numbers: list[dict[str, Any]] = contact["phoneNumbers"]
    return {**contact, "phoneNumbers": [{"phoneNumber": "", **entry} for entry in numbers]}


VALID_CONTACT = CONTACT.map(_with_numbers)

PHONE_FIELDS = {"label", "type", "e164", "localized", "phoneNumber"}


def composed_name(contact: dict[str, Any]) -> str | None:
    """SPEC 4: the given name if not null, else "first last" of the non-empty parts, else null."""
    if contact.get("name") is not None:
        return str(contact["name"])
    parts = [part for part in (contact.get("firstName"), contact.get("lastName")) if part]
    return " ".join(parts) if parts else None


@BOUNDED
@given(contact=CONTACT, locale=LOCALES)
def test_sanitizing_any_contact_never_raises_and_gives_every_field(
    contact: dict[str, Any], locale: str
) -> None:
    result = sanitize_contact(contact, locale)

    assert result["name"] == composed_name(contact)
    assert result["id"] == contact["id"]
    if "somethingUnknown" in contact:
        assert result["somethingUnknown"] == contact["somethingUnknown"]
    assert len(result["phoneNumbers"]) == len(contact["phoneNumbers"])
    for given_entry, entry in zip(contact["phoneNumbers"], result["phoneNumbers"], strict=True):
        assert set(entry) == PHONE_FIELDS
        assert all(isinstance(entry[name], str) for name in PHONE_FIELDS)
        assert entry["label"] == given_entry["label"]
        raw = given_entry.get("phoneNumber", "")
        normalized = re.sub(r"[^A-Za-z0-9_+]", "", raw)
        assert entry["type"] == ("DIRECT_DIAL" if len(normalized) <= 5 else "STANDARD")
        if entry["type"] == "DIRECT_DIAL":
            assert entry["e164"] == raw
    if "relatesTo" in contact:
        unique = []
        for item in contact["relatesTo"]:
            if item not in unique:
                unique.append(item)
        assert result["relatesTo"] == unique


@BOUNDED
@given(contacts=st.lists(VALID_CONTACT, max_size=5), locale=LOCALES)
def test_validated_lists_keep_every_contact_and_field(
    contacts: list[dict[str, Any]], locale: str
) -> None:
    prepared = prepare_contacts(contacts, locale)

    assert [contact["id"] for contact in prepared] == [contact["id"] for contact in contacts]
    for contact in prepared:
        assert "somethingUnknown" not in contact
        for field in ("name", "firstName", "lastName", "email", "organization"):
            assert field in contact
        for entry in contact["phoneNumbers"]:
            assert set(entry) == PHONE_FIELDS


@BOUNDED
@given(contacts=st.lists(CONTACT, max_size=3), locale=LOCALES)
def test_an_invalid_list_is_a_500_with_a_message(
    contacts: list[dict[str, Any]], locale: str
) -> None:
    try:
        prepare_contacts(contacts, locale)
    except ServerError as error:
        assert error.status == 500
        assert error.message.startswith("Invalid contacts received: ")
        assert any("phoneNumber" not in e for c in contacts for e in c["phoneNumbers"])


@BOUNDED
@given(number=PHONE_LIKE, locale=LOCALES, label=st.text(max_size=8))
def test_sanitizing_is_idempotent_on_its_own_e164_output(
    number: str, locale: str, label: str
) -> None:
    first = sanitize_phone_number(label, number, locale)
    e164 = first["phoneNumber"]
    again = sanitize_phone_number(label, e164, locale)

    assert set(first) == PHONE_FIELDS
    assert again["phoneNumber"] == e164
    if first["type"] == "STANDARD" and again["type"] == "STANDARD":
        assert again["e164"] == first["e164"]
