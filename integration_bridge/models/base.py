"""The base of every wire model: snake_case in Python, camelCase on the wire."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A pydantic model whose JSON uses camelCase names.

    Optional fields that were never set are omitted from `to_wire`; fields
    named in ``_always_sent`` are written even when they hold their default
    (``null``), as the original framework does for nullable contact fields.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )

    _always_sent: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _mark_always_sent(self) -> Any:
        if self._always_sent:
            self.__pydantic_fields_set__.update(self._always_sent)
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys, unset optional fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class InboundModel(WireModel):
    """A request body handed to the adapter: fields the framework does not know are kept.

    The original passes raw bodies, so a bridge may read fields the front end
    sends beyond this contract: ``model.model_extra`` holds them under their
    wire names (``event.model_extra["customField"]``), and ``to_wire`` writes
    them back. Required fields are still checked (400).
    """

    model_config = ConfigDict(extra="allow")
