"""Small helpers bridge authors use everywhere."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from integration_bridge.models import Config
from integration_bridge.validation import parse_as

__all__ = ["ArrayDiff", "diff_arrays", "validate"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class ArrayDiff(NamedTuple, Generic[T]):
    """Items only in the first list, only in the second, and (from the first) in both."""

    only_first: list[T]
    only_second: list[T]
    common: list[T]


def _default_id(item: Any) -> Hashable:
    if isinstance(item, Mapping):
        return item.get("id")
    return getattr(item, "id", item)  # type: ignore[no-any-return]


def diff_arrays(
    first: Iterable[T], second: Iterable[T], key: Callable[[T], Hashable] = _default_id
) -> ArrayDiff[T]:
    """Split two lists into distinct and common items, by id (or by ``key``)."""
    first_list, second_list = list(first), list(second)
    first_ids = {key(item) for item in first_list}
    second_ids = {key(item) for item in second_list}
    return ArrayDiff(
        [item for item in first_list if key(item) not in second_ids],
        [item for item in second_list if key(item) not in first_ids],
        [item for item in first_list if key(item) in second_ids],
    )


def validate(model: type[M], data: Any, config: Config | None, message: str) -> M:
    """Validate ``data`` as ``model`` or raise ``ServerError(500, "<message>: <reason>")``.

    ``config`` is accepted for the original's signature; the failure is logged
    with the request's (anonymized) context.
    """
    import logging

    try:
        return parse_as(model, data, status=500, message=message)
    except Exception:
        logging.getLogger("integration_bridge.validate").warning(
            "[validate] %s (user %s)", message, config.user_id if config else "-"
        )
        raise
