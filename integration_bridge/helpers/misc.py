"""Small helpers bridge authors use everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import BaseModel

from integration_bridge.errors import ServerError
from integration_bridge.logging import anonymize_key
from integration_bridge.models import Config
from integration_bridge.models.entities import ENTITY_TYPES
from integration_bridge.validation import parse_as

__all__ = ["ArrayDiff", "diff_arrays", "get_subdomain", "is_integration_entity", "validate"]

X = TypeVar("X")
Y = TypeVar("Y")
M = TypeVar("M", bound=BaseModel)

_log = logging.getLogger("integration_bridge.validate")


class ArrayDiff(NamedTuple, Generic[X, Y]):
    """Two lists split by id, each side in its own order.

    Attributes:
        only_first: items of the first list whose id the second lacks.
        only_second: items of the second list whose id the first lacks.
        common: items of the first list whose id the second has too.
        common_second: items of the second list whose id the first has too
            (the original's ``commonYs``).
    """

    only_first: list[X]
    only_second: list[Y]
    common: list[X]
    common_second: list[Y]


def _default_id(item: Any) -> Hashable:
    if isinstance(item, Mapping):
        return item.get("id")
    return getattr(item, "id", item)  # type: ignore[no-any-return]


def diff_arrays(
    first: Iterable[X],
    second: Iterable[Y],
    key: Callable[[X], Hashable] = _default_id,
    second_key: Callable[[Y], Hashable] | None = None,
) -> ArrayDiff[X, Y]:
    """Split two lists into distinct and common items by id (the original's ``diffArrays``).

    Args:
        first: e.g. the entities a call is logged to in the CRM.
        second: e.g. the entities the call should be logged to.
        key: the id of an item of ``first``; by default its ``id`` key or
            attribute, or the item itself.
        second_key: the id of an item of ``second``; ``key`` when None.

    Returns:
        `ArrayDiff`. Unlike the original, items with the same id are all kept.
    """
    id_of_second = second_key or cast(Callable[[Y], Hashable], key)
    first_list, second_list = list(first), list(second)
    first_ids = {key(item) for item in first_list}
    second_ids = {id_of_second(item) for item in second_list}
    return ArrayDiff(
        [item for item in first_list if key(item) not in second_ids],
        [item for item in second_list if id_of_second(item) not in first_ids],
        [item for item in first_list if key(item) in second_ids],
        [item for item in second_list if id_of_second(item) in first_ids],
    )


def validate(model: type[M], data: Any, config: Config | None, message: str) -> M:
    """Validate ``data`` as ``model``, or log why and fail with ``message``.

    Args:
        model: the pydantic model, e.g. `Contact`.
        data: a dict (camelCase or snake_case keys) or a model instance.
        config: the request's config; its api key is logged anonymized.
        message: what went wrong, e.g. ``"Invalid contact received"``.

    Returns:
        The validated model.

    Raises:
        ServerError: 500 with ``"<message>: <what is wrong>"``.
    """
    try:
        return parse_as(model, data, status=500, message=message)
    except ServerError as error:
        _log.error(
            "[validate] %s",
            error.message,
            extra={"apiKey": anonymize_key(config.api_key if config else None)},
        )
        raise


def get_subdomain(url: str) -> str:
    """The first label of a URL's host: ``https://acme.crm.example/x`` → ``acme``.

    A URL without a scheme is read as ``https://`` (``acme.crm.example`` →
    ``acme``).

    Raises:
        ValueError: the URL has no host.
    """
    text = url.strip()
    host = urlsplit(text if "://" in text else f"https://{text}").hostname
    if not host:
        raise ValueError(f"not a URL with a host: {url!r}")
    return host.split(".", 1)[0]


def is_integration_entity(value: Any) -> bool:
    """Whether ``value`` (dict or model) has a string ``id``, a known ``type`` and a ``source``."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if not isinstance(value, Mapping):
        return False
    id, type, source = value.get("id"), value.get("type"), value.get("source")
    return isinstance(id, str) and type in ENTITY_TYPES and isinstance(source, str)
