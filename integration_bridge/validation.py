"""Turning pydantic validation errors into short, clear messages; path id rules."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from integration_bridge.errors import ServerError

__all__ = ["PATH_ID_PARAMS", "describe_validation_error", "is_valid_path_id", "parse_as"]

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
