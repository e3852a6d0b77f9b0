"""Hypothesis properties of the contact cache's keys, through GET /contacts (SPEC 3.5, 5).

Whatever provider keys callers send, in whatever order: a key with a reserved
storage prefix is refused with 400, every other caller gets exactly the list
the adapter made for its own key, and callers without a key never share a list.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_bridge import Adapter, Config
from tests.support import ClientFactory

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

RESERVED = ("cache-state:", "AUTH:")
"""SPEC 3.5: prefixes of the cache's own storage entries."""

# Header-safe: printable ASCII, no surrounding spaces (HTTP strips them).
TOKEN = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
)


@st.composite
def key_sequences(draw: st.DrawFn) -> list[str]:
    """Provider keys that collide with each other's storage keys as much as possible."""
    base = draw(TOKEN)
    related = st.sampled_from(
        [
            base,
            f"cache-state:{base}",
            f"AUTH:{base}",
            f"AUTH:bridge:{base}",
            f"{base}:{base}",
            f"cache-state:cache-state:{base}",
            f"auth:{base}",
            f"Cache-State:{base}",
            f"x{base}",
        ]
    )
    return draw(st.lists(related | TOKEN, min_size=2, max_size=6))


class KeyEchoBridge(Adapter):
    """A list that names the caller it was made for, and a count of fetches."""

    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        owner = f"{config.api_key}|{config.user_id}|{config.api_url}"
        return [{"id": owner, "phoneNumbers": []}]


def headers(key: str | None, user: str = "u", url: str = "") -> dict[str, str]:
    found = {"x-user-id": user, "x-provider-url": url}
    if key is not None:
        found["x-provider-key"] = key
    return found


@BOUNDED
@given(keys=key_sequences())
async def test_every_key_gets_its_own_list_or_a_400(
    make_client: ClientFactory, keys: list[str]
) -> None:
    client = await make_client(KeyEchoBridge())
    try:
        for key in keys * 2:  # the second round reads what the first one cached
            response = await client.get("/contacts", headers=headers(key))
            if key.startswith(RESERVED):
                assert response.status == 400, key
            else:
                assert response.status == 200, key
                assert await response.json() == [
                    {
                        "id": f"{key}|u|",
                        "name": None,
                        "firstName": None,
                        "lastName": None,
                        "email": None,
                        "organization": None,
                        "contactUrl": None,
                        "avatarUrl": None,
                        "phoneNumbers": [],
                    }
                ]
    finally:
        await client.close()


@BOUNDED
@given(callers=st.lists(st.tuples(TOKEN, TOKEN), min_size=2, max_size=5, unique=True))
async def test_keyless_callers_never_share_a_list(
    make_client: ClientFactory, callers: list[tuple[str, str]]
) -> None:
    bridge = KeyEchoBridge()
    client = await make_client(bridge)
    try:
        for user, url in callers * 2:
            for key in (None, ""):
                response = await client.get("/contacts", headers=headers(key, user, url))
                assert response.status == 200
                [contact] = await response.json()
                assert contact["id"] == f"|{user}|{url}"
        assert bridge.fetches == len(callers) * 4  # nothing was cached
    finally:
        await client.close()
