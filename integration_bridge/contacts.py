"""Contact validation and sanitizing (pure functions on camelCase dicts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from integration_bridge.dedup import unique_in_order
from integration_bridge.errors import ServerError
from integration_bridge.models import Contact
from integration_bridge.phone import sanitize_phone_number
from integration_bridge.phone_pool import PhoneParsePool
from integration_bridge.validation import describe_validation_error

__all__ = [
    "compose_name",
    "contact_to_dict",
    "prepare_contacts",
    "prepare_contacts_in",
    "sanitize_contact",
    "validate_contact",
    "validate_contacts",
]

_CONTACT_LIST: TypeAdapter[list[Contact]] = TypeAdapter(list[Contact])
_CAMEL_FIELDS = {name: to_camel(name) for name in Contact.model_fields}


def compose_name(name: str | None, first_name: str | None, last_name: str | None) -> str | None:
    """The given name if not None, else "first last" from the non-empty parts, else None."""
    if name is not None:
        return name
    parts = [part for part in (first_name, last_name) if part]
    return " ".join(parts) if parts else None


def sanitize_contact(contact: Mapping[str, Any], locale: str) -> dict[str, Any]:
    """Name composed, ``relatesTo`` de-duplicated, every phone number sanitized.

    Keeps the key order and unknown keys of ``contact`` (camelCase).
    """
    result = dict(contact)
    result["name"] = compose_name(
        contact.get("name"), contact.get("firstName"), contact.get("lastName")
    )
    relates_to = contact.get("relatesTo")
    if isinstance(relates_to, list):
        result["relatesTo"] = unique_in_order(relates_to)
    numbers = contact.get("phoneNumbers")
    if isinstance(numbers, list):
        result["phoneNumbers"] = [
            sanitize_phone_number(
                str(entry.get("label", "")), str(entry.get("phoneNumber", "")), locale
            )
            if isinstance(entry, Mapping)
            else entry
            for entry in numbers
        ]
    return result


def _as_python(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(by_alias=True, exclude_unset=True)
    return data


def validate_contacts(data: Any) -> list[dict[str, Any]]:
    """Validate a list of contacts (models or dicts) and keep only the known fields.

    Raises:
        ServerError: 500 ``Invalid contacts received: ...``.
    """
    if not isinstance(data, list | tuple):
        raise ServerError(500, "Invalid contacts received: expected a list of contacts")
    try:
        contacts = _CONTACT_LIST.validate_python([_as_python(item) for item in data])
    except ValidationError as error:
        raise ServerError(
            500, f"Invalid contacts received: {describe_validation_error(error)}"
        ) from None
    return [contact.to_wire() for contact in contacts]


def prepare_contacts(data: Any, locale: str) -> list[dict[str, Any]]:
    """Validate, then sanitize, a fetched contact list or stream batch."""
    return [sanitize_contact(contact, locale) for contact in validate_contacts(data)]


_PRIMED_SLICE = 2000
"""Contacts whose numbers are parsed ahead at once: their numbers fit the phone memo."""


async def prepare_contacts_in(pool: PhoneParsePool, data: Any, locale: str) -> list[dict[str, Any]]:
    """`prepare_contacts`, with the new numbers of a large list parsed on several cores.

    The workers get the first slice's numbers straight from the adapter's
    answer and parse them while this process validates the list.
    """
    first = pool.start(data[:_PRIMED_SLICE], locale) if isinstance(data, list | tuple) else None
    try:
        contacts = validate_contacts(data)
    except ServerError:
        if first is not None:
            first.cancel()
        raise
    prepared: list[dict[str, Any]] = []
    for start in range(0, len(contacts), _PRIMED_SLICE):
        part = contacts[start : start + _PRIMED_SLICE]
        if first is not None:
            await first.finish()  # the first slice's numbers, from the raw answer
            first = None
        else:
            await pool.prime(part, locale)  # later slices (or a list the workers did not take)
        prepared.extend(sanitize_contact(contact, locale) for contact in part)
    return prepared


def validate_contact(data: Any, message: str) -> dict[str, Any]:
    """One contact validated as `Contact`, as a wire dict.

    Raises:
        ServerError: 500 ``<message>: <what is wrong>``.
    """
    try:
        return Contact.model_validate(_as_python(data)).to_wire()
    except ValidationError as error:
        raise ServerError(500, f"{message}: {describe_validation_error(error)}") from None


def contact_to_dict(value: Any) -> dict[str, Any]:
    """A contact as a camelCase dict without validation (unknown fields pass through)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if not isinstance(value, Mapping):
        raise ServerError(500, "Invalid contact returned from bridge: expected an object")
    return {_CAMEL_FIELDS.get(str(key), str(key)): item for key, item in value.items()}
