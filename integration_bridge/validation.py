"""Turning pydantic validation errors into short, clear messages; path id rules."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from integration_bridge.errors import ServerError

__all__ = [
    "MAX_PHONE_NUMBER_LENGTH",
    "MAX_STRING_LENGTH",
    "PATH_ID_PARAMS",
    "describe_validation_error",
    "is_valid_path_id",
    "oversized_string",
    "parse_as",
]

MAX_STRING_LENGTH = 10_000
"""The longest string (or object key) a request body may hold (SPEC 3.5)."""

MAX_PHONE_NUMBER_LENGTH = 64
"""The longest ``phoneNumber`` a request body may hold (SPEC 3.5)."""


def oversized_string(body: Any) -> str | None:
    """Where a decoded JSON body holds an overlong string, as ``"a.0.b: ..."``; else None.

    Any string or key over `MAX_STRING_LENGTH` characters, or a ``phoneNumber``
    over `MAX_PHONE_NUMBER_LENGTH`, anywhere in the body. Walks without
    recursion, so a deeply nested body cannot exhaust the stack.
    """
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            limit = MAX_PHONE_NUMBER_LENGTH if path.endswith("phoneNumber") else MAX_STRING_LENGTH
            if len(value) > limit:
                return f"{path or 'body'}: longer than {limit} characters"
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_STRING_LENGTH:
                    return f"{path or 'body'}: a key longer than {MAX_STRING_LENGTH} characters"
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{index}") for index, item in enumerate(value))
    return None


PATH_ID_PARAMS = ("id", "type")
"""Route parameters that are checked with `is_valid_path_id` before any handler runs."""

# Separators of a path or URL, and control characters (C0, DEL, C1).
_ID_FORBIDDEN = re.compile(r"[/\\?#\x00-\x1f\x7f-\x9f]")


def is_valid_path_id(value: str) -> bool:
    """Whether a decoded path id is safe to hand to an adapter (SPEC 3.5).

    Not empty, not ``.`` or ``..``, and without ``/``, ``\\``, ``?``, ``#`` or a
    control character: an id can then never change the path or the query of a
    CRM URL built from it, however the bridge builds that URL.
    """
    return value not in ("", ".", "..") and _ID_FORBIDDEN.search(value) is None


M = TypeVar("M", bound=BaseModel)

_MAX_ERRORS = 3


def describe_validation_error(error: ValidationError) -> str:
    """``"phoneNumbers: Field required; id: Input should be a valid string"`` style text."""
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:_MAX_ERRORS]:
        location = ".".join(str(part) for part in item["loc"]) or "body"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - _MAX_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_as(model: type[M], data: Any, *, status: int, message: str) -> M:
    """Validate ``data`` (a model or a dict) as ``model``.

    Raises:
        ServerError: ``status`` with ``"<message>: <what is wrong>"``.
    """
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(by_alias=True, exclude_unset=True)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ServerError(status, f"{message}: {describe_validation_error(error)}") from None
