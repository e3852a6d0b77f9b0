"""`ByteBoundedLRU` and `ByteBoundedFIFO`: memos whose memory is bounded in bytes, not entries.

Memos keyed by caller input (request headers, phone numbers, rate-limit keys)
must not grow with what a caller sends: an entry cap alone lets a few large
inputs hold megabytes each. Every entry is charged its (estimated) size and
the least recently used (`ByteBoundedLRU`) or the oldest (`ByteBoundedFIFO`)
entries go once the budget is exceeded; an entry larger than the whole budget
is never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ENTRY_OVERHEAD_BYTES", "ByteBoundedFIFO", "ByteBoundedLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ENTRY_OVERHEAD_BYTES = 200
"""What one entry costs beyond its key and value bytes (dict slot, tuple, objects)."""


class ByteBoundedLRU(Generic[K, V]):
    """A least-recently-used mapping whose entries together stay under ``max_bytes``.

    Args:
        max_bytes: the budget for all entries, each charged the size given to
            `put` plus `ENTRY_OVERHEAD_BYTES`.
        max_entries: an optional cap on the number of entries as well.
    """

    __slots__ = ("_entries", "_size", "max_bytes", "max_entries")

    def __init__(self, max_bytes: int, max_entries: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def size(self) -> int:
        """Bytes charged for the entries held now."""
        return self._size

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marked as recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key``, charged ``size`` bytes; evicts the oldest to fit."""
        cost = size + ENTRY_OVERHEAD_BYTES
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= old[1]
        if cost > self.max_bytes:
            return
        self._entries[key] = (value, cost)
        self._size += cost
        limit = self.max_entries
        while self._size > self.max_bytes or (limit is not None and len(self._entries) > limit):
            _, (_, evicted) = self._entries.popitem(last=False)
            self._size -= evicted

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self._size = 0


class ByteBoundedFIFO(Generic[K, V]):
    """A mapping whose entries together stay under ``max_bytes``; the oldest go first.

    For a memo read on every request whose entries are cheap to make again:
    `get` is the bound ``get`` of a plain dict, so a read costs one C call
    (`ByteBoundedLRU.get` is a Python call that hashes its key twice, to find
    the entry and to mark it recently used). A reader that keeps asking for an
    entry that went makes it again once.

    Args:
        max_bytes: the budget for all entries, each charged the size given to
            `put` plus `ENTRY_OVERHEAD_BYTES`.
    """

    __slots__ = ("_costs", "_size", "_values", "get", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._values: dict[K, V] = {}
        self._costs: dict[K, int] = {}  # in insertion order: the oldest first
        self._size = 0
        self.get: Callable[[K], V | None] = self._values.get
        """The value for ``key``, or None."""

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    @property
    def size(self) -> int:
        """Bytes charged for the entries held now."""
        return self._size

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key``, charged ``size`` bytes; evicts the oldest to fit."""
        cost = size + ENTRY_OVERHEAD_BYTES
        old = self._costs.pop(key, None)
        if old is not None:
            del self._values[key]
            self._size -= old
        if cost > self.max_bytes:
            return
        self._values[key] = value
        self._costs[key] = cost
        self._size += cost
        costs = self._costs
        while self._size > self.max_bytes:
            oldest = next(iter(costs))
            self._size -= costs.pop(oldest)
            del self._values[oldest]

    def clear(self) -> None:
        """Drop every entry."""
        self._values.clear()
        self._costs.clear()
        self._size = 0
