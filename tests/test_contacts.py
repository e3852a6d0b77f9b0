"""Contact validation and sanitizing (SPEC 4 and 5)."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import Contact, ServerError
from integration_bridge.contacts import (
    compose_name,
    contact_to_dict,
    prepare_contacts,
    sanitize_contact,
    validate_contact,
    validate_contacts,
)


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
