"""The bridge under load: the demo's generated address books, sized by the environment.

``BENCH_CONTACTS`` contacts per user (1,000), ``BENCH_STREAM_CONTACTS`` per stream
(100,000), ``BENCH_PAGE_SIZE`` per stream page (1,000). With ``BENCH_LISTS`` (a
JSON file ``{"<provider key>": [contacts...]}``) the users it names get that
list, decoded from its JSON bytes on every call as a fetched CRM answer would be.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from examples.fake_crm import generate_contacts
from integration_bridge import Adapter, Config


def env_int(name: str, default: int) -> int:
    """An integer from the environment."""
    return int(os.environ.get(name, default))


def load_lists(path: str) -> dict[str, bytes]:
    """Provider key → the JSON bytes of its contact list, from a ``BENCH_LISTS`` file."""
    lists = orjson.loads(Path(path).read_bytes())
    return {key: orjson.dumps(contacts) for key, contacts in lists.items()}


class BenchBridge(Adapter):
    """Answers every user with a generated address book, without delay."""

    def __init__(self) -> None:
        self.contacts = env_int("BENCH_CONTACTS", 1000)
        self.stream_contacts_total = env_int("BENCH_STREAM_CONTACTS", 100_000)
        self.page_size = env_int("BENCH_PAGE_SIZE", 1000)
        self.lists = load_lists(os.environ["BENCH_LISTS"]) if "BENCH_LISTS" in os.environ else {}

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        """The user's list from ``BENCH_LISTS``, else a deterministic one per provider key."""
        fetched = self.lists.get(config.api_key)
        if fetched is not None:
            contacts: list[dict[str, Any]] = orjson.loads(fetched)
            return contacts
        return generate_contacts(config.api_key, self.contacts)

    async def stream_contacts(self, config: Config) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of generated contacts with unique ids."""
        sent = 0
        page_number = 0
        while sent < self.stream_contacts_total:
            size = min(self.page_size, self.stream_contacts_total - sent)
            page = generate_contacts(f"{config.api_key}:{page_number}", size)
            for contact in page:
                contact["id"] = f"{page_number}-{contact['id']}"
            yield page
            sent += size
            page_number += 1
