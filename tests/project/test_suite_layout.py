"""The suite's own layout: ``tests/`` mirrors the package, no test module imports another,
shared names come from support."""

from __future__ import annotations

import ast
from pathlib import Path

import integration_bridge

TESTS = Path(__file__).resolve().parents[1]
PACKAGE = Path(integration_bridge.__file__).resolve().parent
SUPPORT = "tests.support"
WHOLE_PROJECT = "project"
"""The directory of ``tests/`` for checks of the whole project, which mirror no module."""


def misplaced_test_files(tests: Path, package: Path) -> list[str]:
    """Test files (outside the whole-project directory) whose mirrored module does not exist.

    ``tests/<path>/test_<name>.py`` tests ``<package>/<path>/<name>.py`` or the
    subpackage ``<package>/<path>/<name>/``.
    """
    found: list[str] = []
    for path in sorted(tests.rglob("test_*.py")):
        relative = path.relative_to(tests)
        if relative.parts[0] == WHOLE_PROJECT:
            continue
        module = package / relative.parent / relative.stem.removeprefix("test_")
        if not (module.with_suffix(".py").is_file() or (module / "__init__.py").is_file()):
            found.append(relative.as_posix())
    return found


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


def test_tests_mirror_the_package() -> None:
    assert misplaced_test_files(TESTS, PACKAGE) == []


def test_the_mirror_rule_finds_a_misplaced_file(tmp_path: Path) -> None:
    package, tests = tmp_path / "package", tmp_path / "tests"
    for name in ("cache/__init__.py", "cache/redis.py", "phone.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).touch()
    for name in (
        "test_phone.py",
        "test_cache.py",  # the subpackage
        "cache/test_redis.py",
        "cache/test_redis_tls.py",  # no such module
        "test_redis.py",  # redis.py lives in cache/
        "project/test_fuzz.py",  # whole-project checks mirror nothing
        "cache/counting_bridge.py",  # not a test file
    ):
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).touch()
    assert misplaced_test_files(tests, package) == ["cache/test_redis_tls.py", "test_redis.py"]
