"""An editable install of the framework is visible to a bridge's ``mypy --strict``.

The bridge lives outside this repository; the framework is installed editable
(offline: ``--no-build-isolation --no-deps --no-index``) into a fresh
environment that borrows this one's packages through a path entry. With
setuptools' default editable mode (an import hook) mypy reported "Cannot find
implementation or library stub for module named integration_bridge"; the
build backend's plain path entry must keep that from happening.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.support import ROOT

BRIDGE = Path(__file__).resolve().parent / "typed_bridge" / "tiny_bridge.py"


def _mypy(python: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-executable",
            str(python),
            "tiny_bridge.py",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_bridge_type_checks_against_an_editable_install(tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site_packages = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # This environment's packages (pip, hatchling, aiohttp, pydantic ...), not its
    # own editable install of the framework: .pth files there are not read.
    (site_packages / "_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    workdir = tmp_path / "bridge"
    workdir.mkdir()
    shutil.copy(BRIDGE, workdir / "tiny_bridge.py")

    before = _mypy(python, workdir)
    assert 'Cannot find implementation or library stub for module named "integration_bridge"' in (
        before.stdout
    )

    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--editable",
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    after = _mypy(python, workdir)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Success: no issues found in 1 source file" in after.stdout
