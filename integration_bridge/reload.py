"""``run --reload``: serve a bridge in a child process, restarted when a source file changes.

The parent only watches files (with watchfiles, as uvicorn and aiohttp-devtools
do); the bridge runs in a fresh interpreter that imports everything anew, so
an edit to the bridge or to the framework is served after the restart. A
bridge that fails to import (a half-written edit) leaves the watcher running;
the next save tries again. Logs are plain text unless ``LOG_PLAIN`` says
otherwise. Development only: a production bridge runs without it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["run_with_reload", "watched_paths"]

_log = logging.getLogger("integration_bridge.reload")


def watched_paths(target: str, cwd: Path | None = None) -> list[Path]:
    """The directories whose Python files restart the bridge.

    The working directory (bridges are imported from it), the framework's own
    package, and the bridge's top-level package when it lives elsewhere
    (e.g. installed with ``pip install -e``).

    Args:
        target: the ``MODULE:ATTR`` of the bridge.
        cwd: the working directory (default: the current one).

    Returns:
        Directories, none inside another.
    """
    cwd = (cwd or Path.cwd()).resolve()
    candidates = [cwd, Path(__file__).resolve().parent]
    top = target.partition(":")[0].split(".")[0]
    if top:
        if str(cwd) not in sys.path:
            sys.path.insert(0, str(cwd))
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and spec.origin not in ("built-in", "frozen"):
            origin = Path(spec.origin).resolve()
            candidates.append(origin.parent if spec.submodule_search_locations else origin)
    paths: list[Path] = []
    for path in sorted(set(candidates), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(kept) for kept in paths):
            paths.append(path)
    return paths


def _serve(main: Callable[[list[str]], int], argv: list[str]) -> None:
    sys.exit(main(argv))


def run_with_reload(target: str, argv: Sequence[str], main: Callable[[list[str]], int]) -> int:
    """Run ``main(argv)`` in a child process, restarted on changes.

    Args:
        target: the ``MODULE:ATTR`` of the bridge, to find what to watch.
        argv: the command line for the child (without ``--reload``).
        main: the command line entry point (`integration_bridge.cli.main`);
            passed in so that this module does not import the CLI back.

    Returns:
        The exit code (0 after Ctrl-C or SIGTERM).
    """
    import watchfiles

    os.environ.setdefault("LOG_PLAIN", "true")
    paths = watched_paths(target)
    print(
        f"[reload] watching {', '.join(str(p) for p in paths)} for Python changes",
        file=sys.stderr,
        flush=True,
    )

    def changed(changes: set[tuple[watchfiles.Change, str]]) -> None:
        names = sorted({Path(path).name for _, path in changes})
        print(f"[reload] {', '.join(names)} changed: restarting", file=sys.stderr, flush=True)

    watchfiles.run_process(
        *paths,
        target=_serve,
        args=(main, list(argv)),
        target_type="function",
        callback=changed,
        watch_filter=watchfiles.PythonFilter(),
        debounce=400,
    )
    return 0
