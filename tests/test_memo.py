"""The byte-bounded memos: what they keep, what goes first, and what they never hold."""

from __future__ import annotations

import pytest

from integration_bridge.memo import ENTRY_OVERHEAD_BYTES, ByteBoundedFIFO, ByteBoundedLRU

BUDGET = 3 * (100 + ENTRY_OVERHEAD_BYTES)  # room for three entries of 100 bytes


@pytest.mark.parametrize("memo_class", [ByteBoundedLRU, ByteBoundedFIFO])
def test_entries_stay_within_the_byte_budget(memo_class: type[ByteBoundedLRU[str, int]]) -> None:
    memo = memo_class(BUDGET)
    for index in range(10):
        memo.put(f"k{index}", index, 100)
        assert memo.size <= BUDGET
    assert len(memo) == 3
    assert [memo.get(f"k{index}") for index in range(7, 10)] == [7, 8, 9]
    assert memo.get("k0") is None


@pytest.mark.parametrize("memo_class", [ByteBoundedLRU, ByteBoundedFIFO])
def test_an_entry_larger_than_the_budget_is_never_kept(
    memo_class: type[ByteBoundedLRU[str, int]],
) -> None:
    memo = memo_class(BUDGET)
    memo.put("small", 1, 100)
    memo.put("huge", 2, BUDGET)
    assert memo.get("huge") is None and "huge" not in memo
    assert memo.get("small") == 1


@pytest.mark.parametrize("memo_class", [ByteBoundedLRU, ByteBoundedFIFO])
def test_putting_a_key_again_replaces_its_value_and_its_charge(
    memo_class: type[ByteBoundedLRU[str, int]],
) -> None:
    memo = memo_class(BUDGET)
    memo.put("k", 1, 100)
    memo.put("k", 2, 10)
    assert memo.get("k") == 2
    assert len(memo) == 1 and memo.size == 10 + ENTRY_OVERHEAD_BYTES
    memo.clear()
    assert len(memo) == 0 and memo.size == 0 and memo.get("k") is None


def test_lru_keeps_what_was_read_recently() -> None:
    memo: ByteBoundedLRU[str, int] = ByteBoundedLRU(BUDGET)
    for key in ("a", "b", "c"):
        memo.put(key, 0, 100)
    assert memo.get("a") == 0  # now the most recently used
    memo.put("d", 0, 100)
    assert "a" in memo and "b" not in memo


def test_fifo_lets_the_oldest_go_even_when_read() -> None:
    memo: ByteBoundedFIFO[str, int] = ByteBoundedFIFO(BUDGET)
    for key in ("a", "b", "c"):
        memo.put(key, 0, 100)
    assert memo.get("a") == 0  # reading does not keep it
    memo.put("d", 0, 100)
    assert "a" not in memo and "b" in memo and "d" in memo


def test_lru_caps_entries_when_asked() -> None:
    memo: ByteBoundedLRU[str, int] = ByteBoundedLRU(10_000, max_entries=2)
    for key in ("a", "b", "c"):
        memo.put(key, 0, 1)
    assert len(memo) == 2 and "a" not in memo
