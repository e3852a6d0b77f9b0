"""Every public `Adapter` method documents its arguments, result, errors and route."""

from __future__ import annotations

import inspect

import pytest

from integration_bridge import Adapter
from integration_bridge.adapter import NOT_IMPLEMENTED_MESSAGES

METHODS = [
    name
    for name, member in vars(Adapter).items()
    if not name.startswith("_") and inspect.isfunction(member)
]
NO_ROUTE = {"implements", "startup", "shutdown"}  # `routes` names its own


def test_every_overridable_method_is_listed() -> None:
    assert set(NOT_IMPLEMENTED_MESSAGES) <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_method_docstring_is_complete(name: str) -> None:
    method = getattr(Adapter, name)
    doc = inspect.getdoc(method) or ""
    parameters = [p for p in inspect.signature(method).parameters if p != "self"]
    if parameters:
        assert "Args:" in doc
        section = doc.split("Args:", 1)[1]
        for parameter in parameters:
            assert f"\n    {parameter}: " in "\n" + section, f"{name}: {parameter} undocumented"
    returns = inspect.signature(method).return_annotation
    if returns not in ("None", None) and name != "startup":
        assert "Returns:" in doc, name
    if name not in {"shutdown"}:
        assert "Raises:" in doc, name
    if name not in NO_ROUTE:
        assert "Serves " in doc or "route" in doc, f"{name}: no route named"
