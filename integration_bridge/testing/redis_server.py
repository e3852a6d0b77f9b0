"""Private redis-server instances for tests (never the machine's own Redis).

``RedisServer`` starts ``redis-server`` on a free loopback port with no
persistence, and can kill it (a crash), start it again on the same port, or
freeze it (SIGSTOP, a hung Redis) — what outage tests of a Redis-backed cache
need. ``free_port`` is the loopback port finder the kit and the tests share.

Why not pytest-redis (5.0.1, checked): its ``RedisExecutor`` (on mirakuru) can
kill and start a server again on the same port (``kill()`` then ``start()``),
and a SIGSTOP could go through ``kill(sig=..., wait=False)``, so the plain
outage tests would fit. But its command line is fixed: no way to pass
``--tls-port``/``--tls-cert-file``/``--tls-key-file``/``--tls-ca-cert-file``/
``--tls-auth-clients`` or an ACL user (``--user``; its ``username`` is only
stored, not configured), and its readiness check is a plain TCP connect on
``--port``, which a TLS-only server (``--port 0``) does not open. The TLS and
password tests (in ``tests/cache/test_redis.py``) would keep their own
process anyway, so the switch would mean two mechanisms instead of one.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server process on a loopback port that can be stopped and started again."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.port = port or free_port()
        self.directory = tempfile.mkdtemp(prefix="ib-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (no shutdown courtesy: like a crash)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        """Stop it for good and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open but nothing answers, like a hung Redis."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        """A synchronous client for assertions."""
        return redis.Redis(port=self.port)

    def __enter__(self) -> RedisServer:
        """Start it; ``with RedisServer() as server:`` closes it at the end."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
