"""Hypothesis properties: contact sanitizing and path-id validation hold for any input.

Examples are bounded and derandomized (reproducible, a few seconds in all). The
oracles are written from SPEC sections 3.5 and 4, not from the code under test.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_bridge import Adapter, Config, IntegrationEntityType, ServerError
from integration_bridge.contacts import prepare_contacts, sanitize_contact
from integration_bridge.phone import sanitize_phone_number
from tests.support import USER_HEADERS, ClientFactory

BOUNDED = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

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


# --- path ids (SPEC 3.5) ---------------------------------------------------------------


def id_is_acceptable(value: str) -> bool:
    """SPEC 3.5, written out: not empty, `.` or `..`; no `/ \\ ? #`; no control character."""
    if value in {"", ".", ".."}:
        return False
    return not any(
        char in "/\\?#" or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in value
    )


class RecordingBridge(Adapter):
    """Records the ids its single-contact routes are handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def get_contact(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.seen.append(id)
        return {"id": id, "phoneNumbers": []}

    async def delete_contact(self, config: Config, id: str) -> None:
        self.seen.append(id)

    async def get_entity(self, config: Config, id: str, type: IntegrationEntityType) -> Any:
        self.seen.append(f"{type}:{id}")
        return None

    async def get_entities_for_contact(self, config: Config, contact_id: str) -> Any:
        self.seen.append(contact_id)
        return []

    async def get_task(self, config: Config, id: str) -> Any:
        self.seen.append(id)
        return {"id": id, "content": "", "createdAt": 0, "dueAt": 0, "title": ""}


IDS = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="./\\?#%\x00\x09\x0a\x0d\x7f\x85 ab", max_size=6),
    st.sampled_from(["..", ".", "...", "a/../b", "%2F", "%00", "c6?x=1"]),
)


@BOUNDED
@given(id=IDS, delete=st.booleans())
async def test_path_ids_reach_the_adapter_exactly_or_are_refused(
    make_client: ClientFactory, id: str, delete: bool
) -> None:
    adapter = RecordingBridge()
    client = await make_client(adapter)
    try:
        encoded = quote(id, safe="")
        if delete:
            response = await client.delete(f"/contacts/{encoded}", headers=USER_HEADERS)
        else:
            response = await client.get(f"/contacts/{encoded}?type=contacts", headers=USER_HEADERS)
        body = await response.text()
    finally:
        await client.close()

    assert all(id_is_acceptable(seen) for seen in adapter.seen)
    if id in {"", ".", ".."}:
        return  # the URL itself changes (dot segments, empty segment): another route answers
    if id_is_acceptable(id):
        assert response.status == 200, (id, body)
        assert adapter.seen == [id]
    else:
        assert (response.status, body) == (400, "Invalid id")
        assert adapter.seen == []


async def test_ids_with_braces_reach_the_adapter(make_client: ClientFactory) -> None:
    """Found by the property above: aiohttp's default ``{id}`` refuses ``{`` and ``}`` (404)."""
    adapter = RecordingBridge()
    client = await make_client(adapter)
    for method, path in [
        ("GET", "/contacts/%7Ba%7D?type=contacts"),
        ("DELETE", "/contacts/a%7B"),
        ("GET", "/contacts/%7D/entities"),
        ("GET", "/entity/%7Bt%7D/%7Bx%7D"),
        ("GET", "/tasks/%7B%7D"),
    ]:
        response = await client.request(method, path, headers=USER_HEADERS)
        assert response.status == 200, path
    assert adapter.seen == ["{a}", "a{", "}", "{t}:{x}", "{}"]
