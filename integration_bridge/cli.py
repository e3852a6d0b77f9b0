"""``python -m integration_bridge run MODULE:ATTR [--host H] [--port P] [--workers N|--reload]``.

``python -m integration_bridge new NAME [--oauth2] [--directory DIR]`` writes a bridge project.
``python -m integration_bridge openapi [-o FILE]`` writes the API's OpenAPI document.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from aiohttp import web

from integration_bridge.adapter import Adapter
from integration_bridge.routing import RouteSource
from integration_bridge.settings import Settings, SettingsError

__all__ = ["framework_openapi", "load_adapter", "main", "run", "write_openapi"]

_log = logging.getLogger("integration_bridge.cli")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TargetError(Exception):
    """The ``MODULE:ATTR`` target cannot be turned into an Adapter."""


def load_adapter(target: str) -> Adapter:
    """Import ``MODULE:ATTR`` and make an `Adapter` of it.

    ATTR may be an Adapter subclass, an instance, or a zero-argument factory.

    Raises:
        TargetError: with a one-line explanation.
    """
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise TargetError(f"expected MODULE:ATTR (e.g. mybridge:MyBridge), got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise TargetError(
            f"cannot import module {module_name!r}: {type(error).__name__}: {error}"
        ) from error
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if isinstance(obj, Adapter):
        return obj
    if inspect.isclass(obj):
        if not issubclass(obj, Adapter):
            raise TargetError(f"{target} is a class but not an integration_bridge.Adapter")
        try:
            return obj()
        except Exception as error:
            raise TargetError(
                f"cannot create {target}(): {type(error).__name__}: {error}"
            ) from error
    if callable(obj):
        try:
            made = obj()
        except Exception as error:
            raise TargetError(f"{target}() failed: {type(error).__name__}: {error}") from error
        if isinstance(made, Adapter):
            return made
        raise TargetError(f"{target}() returned {type(made).__name__}, not an Adapter")
    raise TargetError(f"{target} is a {type(obj).__name__}, not an Adapter")


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    import asyncio

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _build_app(target: str, settings: Settings) -> web.Application:
    from integration_bridge.app import create_app

    return create_app(load_adapter(target), settings=settings)


def _exit_before_serving(_signum: int, _frame: Any) -> NoReturn:
    """Told to stop while still starting: exit cleanly (``run_app`` replaces this handler)."""
    raise SystemExit(0)


def _serve(
    target: str,
    host: str,
    port: int,
    settings: Settings,
    reuse_port: bool,
    app: web.Application | None = None,
) -> None:
    from integration_bridge.logging import configure_logging

    # A worker may be told to stop while it still builds its app, before run_app handles
    # signals; without this it would die of the default action (exit code -15).
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _exit_before_serving)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked across the fork
    configure_logging(settings.log_level, plain=settings.log_plain)
    if app is None:
        app = _build_app(target, settings)
    _install_uvloop()
    _log.info("[cli] %s listening on http://%s:%d (pid %d)", target, host, port, os.getpid())
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            reuse_port=reuse_port or None,
            print=None,
            access_log=None,
            shutdown_timeout=settings.shutdown_timeout,
            handle_signals=True,
        )
    except SettingsError as error:  # found at start-up, e.g. no Google credentials
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _check_pubsub_credentials(app: web.Application) -> None:
    """With --workers: get a Google token once before forking, so no credentials is one line.

    Raises:
        SettingsError: no Google credentials (the message says what to set).
    """
    import asyncio

    from integration_bridge.appkeys import PUBSUB_BACKEND, SETTINGS
    from integration_bridge.pubsub.factory import PubSubBackend, open_publisher

    if app[PUBSUB_BACKEND].backend is not PubSubBackend.GOOGLE:
        return

    async def check() -> None:
        publisher, _ = await open_publisher(app[SETTINGS], app[PUBSUB_BACKEND])
        await publisher.close()

    pubsub_log = logging.getLogger("integration_bridge.pubsub")
    level = pubsub_log.level
    pubsub_log.setLevel(logging.WARNING)  # each worker logs its own start-up line
    try:
        asyncio.run(check())
    finally:
        pubsub_log.setLevel(level)


def _run_workers(target: str, host: str, port: int, settings: Settings, workers: int) -> int:
    """Pre-fork ``workers`` processes sharing the port through SO_REUSEPORT."""
    if not hasattr(socket, "SO_REUSEPORT"):
        print("error: --workers needs SO_REUSEPORT, which this system lacks", file=sys.stderr)
        return 2
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_serve, args=(target, host, port, settings, True), daemon=False)
        for _ in range(workers)
    ]

    def forward(signum: int, _frame: Any) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    # Blocked until `forward` is in place here and each worker's own handler is in place
    # there (`_serve`): a signal that arrives meanwhile waits instead of killing anyone.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for process in processes:
            process.start()
        for signum in _STOP_SIGNALS:
            signal.signal(signum, forward)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    code = 0
    for process in processes:
        process.join()
        code = code or (process.exitcode or 0)
        if settings.metrics_enabled and process.pid is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
    return code


def _shared_metrics_dir(settings: Settings, workers: int) -> str | None:
    """With metrics and several workers: a fresh prometheus-client multiprocess directory.

    Set before anything imports prometheus-client (it reads the variable at import) and
    before the fork; returns the directory to remove on exit, None when there is none
    of ours (one worker, metrics off, or the operator set ``PROMETHEUS_MULTIPROC_DIR``).
    """
    if not settings.metrics_enabled or workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    directory = tempfile.mkdtemp(prefix="ib-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def _new(name: str, directory: str | None, oauth2: bool) -> int:
    from pathlib import Path

    from integration_bridge.scaffold import ScaffoldError, generate

    try:
        target = generate(name, Path(directory) if directory else None, oauth2=oauth2)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"created {target}\nnext: cd {target} && scripts/test && scripts/run --port 8080")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m integration_bridge", description="Run a CRM bridge."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve a bridge over HTTP")
    run.add_argument("target", help="MODULE:ATTR, an Adapter subclass, instance or factory")
    run.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    run.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8080)")
    run.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    run.add_argument(
        "--reload",
        action="store_true",
        help="development: restart when a Python file of the bridge or framework changes",
    )
    new = commands.add_parser("new", help="write a new bridge project (copier template)")
    new.add_argument("name", help="the CRM's or bridge's name, e.g. acme")
    new.add_argument("--oauth2", action="store_true", help="with the OAuth2 login")
    new.add_argument("--directory", help="where to write it (default: ./<name>-bridge)")
    openapi = commands.add_parser("openapi", help="write the OpenAPI document of the bridge API")
    openapi.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if args.command == "run" and args.reload:
        if args.workers != 1:
            print("error: --reload runs one process; drop --workers", file=sys.stderr)
            return 2
        from integration_bridge.reload import run_with_reload

        child = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--reload"]
        return run_with_reload(args.target, child, main)

    if args.command == "new":
        return _new(args.name, args.directory, args.oauth2)

    if args.command == "openapi":
        write_openapi(args.output)
        return 0

    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    metrics_dir: str | None = None
    try:
        settings = Settings.from_env()
        metrics_dir = _shared_metrics_dir(settings, args.workers)
        from integration_bridge.logging import configure_logging

        configure_logging(settings.log_level, plain=settings.log_plain)
        # Fail fast, before any worker starts: the target imports, the settings fit it.
        app = _build_app(args.target, settings)
        if args.workers > 1:
            _check_pubsub_credentials(app)
    except (SettingsError, TargetError) as error:
        print(f"error: {error}", file=sys.stderr)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return 2
    port = args.port if args.port is not None else settings.port
    if args.workers > 1:
        try:
            return _run_workers(args.target, args.host, port, settings, args.workers)
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    _serve(args.target, args.host, port, settings, reuse_port=False, app=app)
    return 0


def run(
    adapter: Adapter,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    settings: Settings | None = None,
    routes: Iterable[RouteSource] = (),
) -> None:
    """Serve ``adapter`` until SIGTERM/SIGINT (the programmatic form of ``run``).

    ``routes`` are mounted after those the adapter declares (`Adapter.routes`),
    as the original's ``start(adapter, customRouters)`` does.
    """
    from integration_bridge.app import create_app

    settings = settings or Settings.from_env()
    app = create_app(adapter, settings=settings, routes=routes)
    _serve("", host, settings.port if port is None else port, settings, False, app=app)


def framework_openapi() -> dict[str, Any]:
    """The OpenAPI document of the framework's routes (the same for every adapter)."""
    from integration_bridge.app import create_app
    from integration_bridge.openapi import build_openapi

    class _AllRoutes(Adapter):
        """No method implemented: the framework serves the same routes for every adapter."""

    return build_openapi(create_app(_AllRoutes(), settings=Settings()))


def write_openapi(output: str | None = None) -> None:
    """Write `framework_openapi` as indented JSON to ``output`` (a path), or to stdout."""
    import orjson

    text = orjson.dumps(framework_openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    if output:
        with open(output, "wb") as file:
            file.write(text)
    else:
        sys.stdout.buffer.write(text)
