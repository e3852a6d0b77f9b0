"""Exact-duplicate removal in linear time: webhook events and relatesTo entries."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from integration_bridge.contacts import sanitize_contact
from integration_bridge.dedup import Canonicalizer, unique_in_order
from integration_bridge.pubsub.events import unique_events

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


def quadratic_reference(items: list[Any]) -> list[Any]:
    """The original's rule: keep an item unless an equal one was kept."""
    kept: list[Any] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return kept


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_same_result_as_the_quadratic_rule(items: list[Any]) -> None:
    kept, reference = unique_in_order(items), quadratic_reference(items)
    assert kept == reference
    assert all(a is b for a, b in zip(kept, reference, strict=True))  # the first one is kept


@settings(max_examples=100, deadline=None)
@given(json_values, json_values)
def test_canonical_forms_are_equal_exactly_when_values_are(a: Any, b: Any) -> None:
    canonical = Canonicalizer()
    assert (canonical.form(a) == canonical.form(b)) == (a == b)


def test_key_order_does_not_matter_but_shape_does() -> None:
    assert unique_in_order([{"a": 1, "b": 2}, {"b": 2, "a": 1}]) == [{"a": 1, "b": 2}]
    assert len(unique_in_order([{"a": [1]}, {"a": (1,)}, {"a": {"0": 1}}, {"a": 1}])) == 3
    assert unique_in_order([[1, 2], [2, 1], [1, 2]]) == [[1, 2], [2, 1]]


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    def nest(leaf: str) -> Any:
        deep: Any = leaf
        for _ in range(5000):
            deep = {"x": [deep]}
        return deep

    first, same, other = nest("leaf"), nest("leaf"), nest("other")
    kept = unique_in_order([first, same, other, first])
    assert len(kept) == 2 and kept[0] is first and kept[1] is other


def test_thirteen_thousand_webhook_events() -> None:
    """The attack: a 1 MB verified webhook with 13,000 events (mostly repeated)."""
    events = [
        {"type": "CONTACT_UPDATED", "accountId": "a", "contactId": f"c{n % 6500}",
         "contactType": "contacts"}
        for n in range(13_000)
    ]  # fmt: skip
    unique = unique_events(events)
    assert [e["contactId"] for e in unique] == [f"c{n}" for n in range(6500)]


def test_relates_to_duplicates_removed_in_order() -> None:
    entity = {"id": "d1", "type": "deals", "source": "CRM"}
    other = {"id": "d2", "type": "deals", "source": "CRM"}
    contact = {
        "id": "1",
        "phoneNumbers": [],
        "relatesTo": [entity, other, {**entity}, other] * 5000,
    }
    assert sanitize_contact(contact, "de-DE")["relatesTo"] == [entity, other]
