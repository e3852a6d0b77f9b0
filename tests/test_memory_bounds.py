"""Memory that grows with input: overlong strings refused, memos bounded in bytes."""

from __future__ import annotations

from typing import Any

import pytest

from integration_bridge import (
    Adapter,
    CallEvent,
    Config,
    ContactTemplate,
    ContactUpdate,
    RateLimiter,
)
from integration_bridge import phone as phone_module
from integration_bridge.phone import MAX_PARSED_LENGTH, PHONE_MEMO_MAX_BYTES, sanitize_phone_number
from tests.support import USER_HEADERS, ClientFactory


class Writes(Adapter):
    def __init__(self, crm_number: str = "+49 157 12345678") -> None:
        self.calls = 0
        self.crm_number = crm_number

    async def create_contact(self, config: Config, contact: ContactTemplate) -> Any:
        self.calls += 1
        return {"id": "new", **contact.to_wire()}

    async def update_contact(self, config: Config, id: str, contact: ContactUpdate) -> Any:
        self.calls += 1
        return contact.to_wire()

    async def handle_call_event(self, config: Config, event: CallEvent) -> str:
        self.calls += 1
        return "ref"

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        return [{"id": "1", "phoneNumbers": [{"label": "WORK", "phoneNumber": self.crm_number}]}]


def _contact(number: str = "+49 157 12345678", **fields: Any) -> dict[str, Any]:
    return {"phoneNumbers": [{"label": "WORK", "phoneNumber": number}], **fields}


async def test_megabyte_phone_numbers_are_refused_and_not_memoized(
    make_client: ClientFactory,
) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    before = phone_module._MEMO.size
    for index in range(20):
        huge = f"+49{index}" + "1" * 500_000
        response = await client.put(
            f"/contacts/c{index}", json=_contact(huge), headers=USER_HEADERS
        )
        assert response.status == 400
        assert "longer than 64 characters" in await response.text()
    assert adapter.calls == 0
    assert phone_module._MEMO.size <= before + 20 * 1000  # nothing of the numbers kept


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (_contact("1" * 64), True),
        (_contact("1" * 65), False),
        (_contact(name="n" * 10_000), True),
        (_contact(name="n" * 10_001), False),
        (_contact(email="e" * 20_000), False),
        ({**_contact(), "unknownField": ["x" * 10_001]}, False),  # unknown fields count too
        ({**_contact(), "k" * 10_001: 1}, False),
    ],
)
async def test_request_body_strings_are_bounded(
    make_client: ClientFactory, body: dict[str, Any], ok: bool
) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    response = await client.post("/contacts", json=body, headers=USER_HEADERS)
    assert response.status == (200 if ok else 400), await response.text()
    assert adapter.calls == (1 if ok else 0)


async def test_call_event_phone_numbers_are_bounded(make_client: ClientFactory) -> None:
    adapter = Writes()
    client = await make_client(adapter)
    event = {
        "id": "call-1",
        "startTime": 1,
        "direction": "IN",
        "participants": [{"type": "remote", "phoneNumber": "+49" + "1" * 100}],
        "note": "",
        "state": "CONNECTED",
    }
    response = await client.post("/events/calls", json=event, headers=USER_HEADERS)
    assert response.status == 400
    assert "participants.0.phoneNumber" in await response.text()
    assert adapter.calls == 0


async def test_overlong_crm_numbers_are_not_parsed(make_client: ClientFactory) -> None:
    number = "+49 30 " + "1" * 80
    client = await make_client(Writes(crm_number=number))
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


async def test_rate_limiter_keys_are_bounded_in_bytes() -> None:
    limiter = RateLimiter(10, 1.0, max_key_bytes=1024 * 1024)
    for index in range(500):
        await limiter.wait(f"{index:04d}" + "k" * 8000)  # 8 KB provider keys
    assert limiter._limiters.size <= 1024 * 1024
    assert len(limiter._limiters) < 500
