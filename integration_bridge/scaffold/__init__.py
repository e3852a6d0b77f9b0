"""``python -m integration_bridge new NAME``: a new bridge project from the bundled copier template.

The template (``scaffold/template``, shipped inside the package) holds a
bridge over a CRM client, a fake CRM for its tests built with the test kit,
tests, ``mypy --strict`` settings, a Dockerfile, a README with its two
commands and a CI script. `generate` renders it with copier.
"""

from __future__ import annotations

import re
import stat
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["TEMPLATE", "ScaffoldError", "generate", "names_for"]

TEMPLATE = Path(__file__).resolve().parent / "template"
"""The copier template (``copier copy`` works on it directly too)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_ ][A-Za-z0-9]+)*")
_EXECUTABLES = ("scripts/test", "scripts/run", "scripts/fake-crm", ".ci/run")


class ScaffoldError(Exception):
    """The project cannot be generated (bad name, directory not empty)."""


def names_for(name: str) -> dict[str, str]:
    """The names derived from NAME: distribution, package, adapter class.

    Args:
        name: the CRM's or bridge's name, e.g. ``acme`` or ``Acme CRM``.

    Returns:
        ``crm_name`` (``acme CRM``), ``project`` (``acme-bridge``),
        ``package`` (``acme_bridge``) and ``class_name`` (``AcmeBridge``).

    Raises:
        ScaffoldError: the name is not letters, digits and single ``-``,
            ``_`` or spaces, starting with a letter.
    """
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"bad NAME {name!r}: use letters and digits, words separated by '-', '_' or ' ', "
            "starting with a letter (e.g. acme or acme-crm)"
        )
    words = [word.lower() for word in re.split(r"[-_ ]", name)]
    if words[-1] != "bridge":
        words.append("bridge")
    crm_name = name if name.lower().endswith("crm") else f"{name} CRM"
    return {
        "crm_name": crm_name,
        "project": "-".join(words),
        "package": "_".join(words),
        "class_name": "".join(word.capitalize() for word in words),
    }


def _framework_version() -> str:
    try:
        return version("integration_bridge")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.1.0"


def _framework_source() -> str:
    """The framework's source tree when it runs from one (an editable install), else ``""``."""
    root = Path(__file__).resolve().parent.parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "integration_bridge"' in pyproject.read_text():
        return str(root)
    return ""


def generate(name: str, directory: Path | None = None, *, oauth2: bool = False) -> Path:
    """Write a new bridge project.

    Args:
        name: the bridge's name (see `names_for`).
        directory: where to write it (default: ``./<project>``); must be
            missing or empty.
        oauth2: also generate the OAuth2 login (redirect and callback over
            `OAuth2Client`) and its tests.

    Returns:
        The project directory.

    Raises:
        ScaffoldError: a bad name or a directory that is not empty.
    """
    import copier

    names = names_for(name)
    target = (directory or Path(names["project"])).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} exists and is not an empty directory")
    copier.run_copy(
        str(TEMPLATE),
        target,
        data={
            "name": name,
            **names,
            "oauth2": oauth2,
            "framework_version": _framework_version(),
            "python": sys.executable,
            "framework_source": _framework_source(),
        },
        defaults=True,
        quiet=True,
        unsafe=False,
    )
    for relative in _EXECUTABLES:
        path = target / relative
        if path.exists():
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target
