"""The in-process memory store: byte bound with LRU eviction, TTL, add/swap."""

from __future__ import annotations

import pytest

from integration_bridge.cache.storage import Blob, MemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_least_recently_used_entries_go_first() -> None:
    blob_size = 1000
    storage = MemoryStorage(max_bytes=3 * (blob_size + 300))
    for key in "abc":
        await storage.set(key, Blob(b"x" * blob_size))
    assert await storage.get("a") is not None  # a is now most recently used
    await storage.set("d", Blob(b"x" * blob_size))
    assert await storage.get("b") is None
    assert all([await storage.get(k) is not None for k in "acd"])
    assert storage.used_bytes <= storage.max_bytes


async def test_entry_larger_than_the_store_is_not_kept() -> None:
    storage = MemoryStorage(max_bytes=500)
    await storage.set("a", Blob(b"x" * 1000))
    assert await storage.get("a") is None
    assert storage.used_bytes == 0


async def test_ttl() -> None:
    clock = Clock()
    storage = MemoryStorage(default_ttl=10, clock=clock)
    await storage.set("a", Blob(b"1"))
    await storage.set("b", Blob(b"2"), ttl=100)
    clock.now += 11
    assert await storage.get("a") is None
    assert await storage.get("b") is not None
    assert len(storage) == 1


async def test_add_and_swap() -> None:
    storage = MemoryStorage()
    first = Blob(b"1")
    assert await storage.add("k", first) is True
    assert await storage.add("k", Blob(b"2")) is False
    current = await storage.get("k")
    assert current is first
    assert await storage.swap("k", Blob(b"1"), Blob(b"3")) is False  # not the same entry
    assert await storage.swap("k", first, Blob(b"3")) is True
    replaced = await storage.get("k")
    assert replaced is not None and replaced.json == b"3"
    await storage.delete("k")
    assert await storage.get("k") is None


def test_blob_forms_are_derived_once() -> None:
    blob = Blob.of({"a": [1, 2, 3]})
    assert not blob.has_gzip and not blob.compressed_only
    assert blob.nbytes == len(b'{"a":[1,2,3]}')
    assert blob.gzip is blob.gzip
    assert blob.has_gzip and blob.nbytes == len(blob.json) + len(blob.gzip)
    compressed = Blob(gzip_bytes=blob.gzip)
    assert compressed.has_gzip and compressed.compressed_only
    assert compressed.json == b'{"a":[1,2,3]}'
    assert not compressed.compressed_only
    assert compressed.value() == {"a": [1, 2, 3]}


def test_a_blob_can_drop_its_json_and_make_it_again() -> None:
    blob = Blob(b"[1]")
    blob.drop_json()  # compresses first: the document is never lost
    assert blob.compressed_only and blob.nbytes == len(blob.gzip)
    assert blob.json == b"[1]"
    with pytest.raises(ValueError, match="needs its JSON or its gzip bytes"):
        Blob()
    with pytest.raises(AttributeError):
        blob.jsn  # type: ignore[attr-defined]  # noqa: B018


async def test_large_values_are_compressed_and_only_recent_ones_kept_plain() -> None:
    document = Blob.of([{"id": str(i), "name": "Ada Lovelace", "n": i} for i in range(2000)])
    size = len(document.json)
    storage = MemoryStorage(hot_bytes=size + 1)
    await storage.set("a", Blob(document.json))
    await storage.set("b", Blob(document.json))
    a, b = await storage.get("a"), await storage.get("b")
    assert a is not None and b is not None
    assert a.compressed_only and not b.compressed_only  # only the newest is kept plain
    assert storage.used_bytes < size * 1.5  # one plain copy plus two small compressed ones
    assert a.json == document.json  # its reader inflated it
    await storage.get("c")  # the store accounts for that at its next operation
    assert not a.compressed_only and b.compressed_only  # a kept plain now, b cooled
    assert b.value() == document.value()
    assert storage.used_bytes < size * 1.5


async def test_hot_budget_counts_towards_the_byte_bound() -> None:
    document = Blob.of(["x" * 10 for _ in range(5000)])
    storage = MemoryStorage(max_bytes=10 * len(document.json), hot_bytes=10 * len(document.json))
    for index in range(20):
        await storage.set(str(index), Blob(document.json))
    assert storage.used_bytes <= storage.max_bytes
    assert await storage.get("19") is not None


async def test_get_many_in_order() -> None:
    storage = MemoryStorage()
    await storage.set("a", Blob(b"1"))
    values = await storage.get_many("missing", "a")
    assert values[0] is None and values[1] is not None and values[1].json == b"1"
