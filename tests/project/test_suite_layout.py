"""The suite's own layout: no test module imports another; shared names come from support."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SUPPORT = "tests.support"


def imported_test_modules(path: Path) -> list[str]:
    """The modules of ``tests`` (other than the support module) that a file imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # A relative import always names a sibling inside tests/.
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        found += [
            name
            for name in names
            if name.startswith(".") or (name.split(".")[0] == "tests" and name != SUPPORT)
        ]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): modules
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "support.py" and (modules := imported_test_modules(path))
    }
    assert offenders == {}


def test_the_walk_finds_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import tests.conftest\n"
        "from tests.pubsub.conftest import PROJECT\n"
        "from tests import redis_server\n"
        "from .conftest import x\n"
        "from tests.support import USER_HEADERS\n"
        "def f() -> None:\n"
        "    from tests.routes.test_basic import CALL\n",
        encoding="utf-8",
    )
    assert imported_test_modules(sample) == [
        "tests.conftest",
        "tests.pubsub.conftest",
        "tests",
        ".conftest",
        "tests.routes.test_basic",
    ]
