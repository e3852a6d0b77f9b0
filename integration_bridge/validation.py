"""Turning pydantic validation errors into short, clear messages."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from integration_bridge.errors import ServerError

__all__ = ["describe_validation_error", "parse_as"]

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
