"""The package has no import cycles, counting imports inside functions and type-only ones."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import integration_bridge

PACKAGE = Path(integration_bridge.__file__).parent
NAME = PACKAGE.name


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name → (file, is a package)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imports(name: str, path: Path, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = _modules()
    names = set(modules)
    return {name: _imports(name, *modules[name], names) for name in modules}


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert f"{NAME}.app" in graph[NAME]
    assert f"{NAME}.cache.token" in graph[f"{NAME}.appkeys"]  # a type-only import


def test_no_import_cycles() -> None:
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None
