"""Hostile-input probe: the demo bridge as a process, with memory and with Redis.

``python -m benchmarks.probe [--redis] [--rounds N]`` starts a fake CRM in this
process, a private ``redis-server`` (with ``--redis``) and the demo bridge with
``python -m integration_bridge run examples.demo_bridge:DemoBridge`` on
127.0.0.1, then sends ``--rounds`` rounds of hostile requests: broken and
non-UTF-8 header lines on raw sockets, header floods, traversal ids, oversized,
hanging, garbled and wrongly encoded bodies, forged OAuth2 state, stream spam,
reserved cache prefixes, CORS ``null``, huge phone numbers. It counts 5xx,
hangs (no answer within the client timeout), side effects of refused requests
(writes and token requests reaching the CRM, Redis keys of refused callers),
secrets sent (provider keys, tokens, cookies) found in the bridge's output or
in error bodies, and RSS growth. Exit code 1 unless all are 0. Nothing but
127.0.0.1 is contacted; counts and time are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.servers import free_port, rss_bytes
from examples.fake_crm import FakeCrm
from integration_bridge.testing.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SECRET = "SeCrEt"  # every key, token and cookie the probe sends contains it
TIMEOUT = 10.0  # a client gives up after this: a hang
BODY_READ_TIMEOUT = 2.0
REFUSALS = {400, 401, 403, 405, 408, 411, 413, 414, 415, 422, 429, 431}
"""Answers the bridge gives before calling the CRM (452 and the like come from the CRM)."""
HELD = {
    "raw half headers": "held until aiohttp's keep-alive timeout (75 s), then closed",
}
"""Cases where the connection stays open past the client's timeout by design."""
SPEC_500 = {"no headers /account/id"}
"""SPEC 2.x: an empty account id answers 500 ``AccountID not found`` (compatible)."""


def secret(kind: str) -> str:
    """A unique secret value that the bridge must never print or echo."""
    return f"{kind}-{SECRET}-{secrets.token_hex(6)}"


@dataclass
class Tally:
    """What the probe saw."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    def record(self, case: str, status: int | str, body: bytes = b"") -> None:
        """Count one answer."""
        self.requests += 1
        self.statuses[str(status)] += 1
        if isinstance(status, int) and status >= 500 and case in SPEC_500:
            self.notes.append(f"{case}: {status} (the SPEC's compatible answer)")
        elif isinstance(status, int) and status >= 500:
            self.server_errors.append(f"{case}: {status} {body[:120]!r}")
        if status == "hang" and case in HELD:
            self.held.append(f"{case}: {HELD[case]}")
        elif status == "hang":
            self.hangs.append(case)
        if SECRET.encode() in body and (not isinstance(status, int) or status >= 400):
            self.leaks.append(f"{case}: error body holds a secret")


class CountingCrm(FakeCrm):
    """The fake CRM, counting writes and token requests."""

    def __init__(self) -> None:
        super().__init__(throttle_every=0, fail_every=0)
        self.writes: list[str] = []
        self.paths: list[str] = []

    def app(self) -> web.Application:
        """The CRM with a counting middleware."""
        app = super().app()

        @web.middleware
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            self.paths.append(request.raw_path)
            if request.method in ("POST", "PUT", "DELETE", "PATCH"):
                self.writes.append(f"{request.method} {request.raw_path}")
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.append(count)
        return app


# -- raw sockets ---------------------------------------------------------------------


async def raw(
    port: int, data: bytes, *, then: bytes = b"", wait: float = 0.0
) -> tuple[int | str, bytes]:
    """Send bytes (and maybe more after ``wait``); the status of the answer or "hang"/"closed"."""
    try:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(data)
                await writer.drain()
                if wait:
                    await asyncio.sleep(wait)
                    if then:
                        writer.write(then)
                        await writer.drain()
                answer = await reader.read(65536)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except TimeoutError:
        return "hang", b""
    except (ConnectionError, OSError):
        return "closed", b""
    if not answer:
        return "closed", b""
    try:
        return int(answer.split(b" ", 2)[1]), answer
    except (IndexError, ValueError):
        return "garbled", answer


def request_bytes(
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    extra: bytes = b"",
) -> bytes:
    """An HTTP/1.1 request, headers as given (no validation)."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in items]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in items):
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n" + extra + b"\r\n" + body


# -- the cases -----------------------------------------------------------------------


class Probe:
    """The hostile cases against one running bridge."""

    def __init__(self, port: int, crm: CountingCrm, tally: Tally) -> None:
        self.port = port
        self.crm = crm
        self.tally = tally
        self.sent_secrets: list[str] = []
        self.session: aiohttp.ClientSession | None = None

    def headers(self, **extra: str) -> dict[str, str]:
        """Valid user headers with a fresh secret provider key."""
        key = secret("key")
        self.sent_secrets.append(key)
        return {
            "x-provider-key": key,
            "x-provider-url": self.crm.url,
            "x-user-id": f"user-{secrets.token_hex(3)}",
            "x-provider-locale": "de_DE",
            **extra,
        }

    async def http(
        self, case: str, method: str, path: str, *, refused: bool = False, **kwargs: Any
    ) -> int | str:
        """One request; with ``refused``, a 4xx must leave the CRM unwritten."""
        assert self.session is not None
        writes = len(self.crm.writes)
        tokens = len(self.crm.token_requests)
        oauth = path.startswith("/oauth2/")
        try:
            async with asyncio.timeout(TIMEOUT):
                async with self.session.request(
                    method, f"http://127.0.0.1:{self.port}{path}", allow_redirects=False, **kwargs
                ) as response:
                    body = await response.read()
                    status: int | str = response.status
                    if response.headers.get("Access-Control-Allow-Origin") == "null":
                        self.tally.notes.append(f"{case}: Access-Control-Allow-Origin: null")
        except TimeoutError:
            status, body = "hang", b""
        except aiohttp.ClientError as error:
            status, body = f"client:{type(error).__name__}", b""
            self.tally.notes.append(
                f"{case}: connection closed by the bridge ({type(error).__name__})"
            )
        self.tally.record(case, status, body)
        if refused and status in REFUSALS and len(self.crm.writes) != writes:
            self.tally.side_effects.append(
                f"{case}: {status} but CRM got {self.crm.writes[writes:]}"
            )
        if refused and oauth and len(self.crm.token_requests) != tokens:
            self.tally.side_effects.append(f"{case}: {status} but a token request was made")
        return status

    async def rawcase(
        self, case: str, data: bytes, *, refused: bool = True, **kwargs: Any
    ) -> int | str:
        """One raw request."""
        writes = len(self.crm.writes)
        status, body = await raw(self.port, data, **kwargs)
        self.tally.record(case, status, body)
        if refused and status in REFUSALS and len(self.crm.writes) != writes:
            self.tally.side_effects.append(
                f"{case}: {status} but CRM got {self.crm.writes[writes:]}"
            )
        return status

    async def round(self) -> None:
        """Every case once."""
        h = self.headers
        contact = {"name": "P", "phoneNumbers": [{"label": "WORK", "phoneNumber": "+4930123"}]}
        # missing or broken caller headers
        for path in ("/contacts", "/account/id", "/validate-token", "/call-log-metadata"):
            await self.http(f"no headers {path}", "GET", path, refused=True)
        await self.http("no key POST", "POST", "/contacts", json=contact, refused=True)
        for url in ("javascript:alert(1)", "http://169.254.169.254/latest", "x" * 9000, "ftp://a"):
            await self.http(
                f"provider url {url[:20]}",
                "POST",
                "/contacts",
                json=contact,
                headers=h(**{"x-provider-url": url}),
                refused=True,
            )
        await self.http(
            "locale garbage", "GET", "/contacts", headers=h(**{"x-provider-locale": "../../" * 50})
        )
        await self.http("user id 8KB", "GET", "/contacts", headers=h(**{"x-user-id": "u" * 8000}))
        # reserved cache prefixes
        for prefix in ("cache-state:", "AUTH:"):
            key = prefix + secret("key")
            self.sent_secrets.append(key)
            await self.http(
                f"reserved {prefix}",
                "GET",
                "/contacts",
                headers={**h(), "x-provider-key": key},
                refused=True,
            )
        # traversal and odd ids on every id route
        ids = [
            "..",
            "%2e%2e",
            "..%2f..%2fapi%2fcontacts",
            "%2F",
            "a%00b",
            "%0d%0aX-Evil:1",
            "c1%2F..%2F..%2Foauth%2Ftoken",
            "x" * 5000,
            "%ff%fe",
            "%u002e",
            "c6%3Fx=1",
            "c6%23frag",
            "c6%2F",
            "c6%2f..",
        ]
        for bad in ids:
            await self.http(
                f"delete id {bad[:16]}", "DELETE", f"/contacts/{bad}", headers=h(), refused=True
            )
            await self.http(
                f"put id {bad[:16]}",
                "PUT",
                f"/contacts/{bad}",
                json=contact,
                headers=h(),
                refused=True,
            )
            await self.http(f"get id {bad[:16]}", "GET", f"/contacts/{bad}", headers=h())
            await self.http(f"entity {bad[:16]}", "GET", f"/entity/contact/{bad}", headers=h())
            await self.http(f"task {bad[:16]}", "GET", f"/tasks/{bad}", headers=h())
            await self.http(
                f"call event {bad[:16]}",
                "PUT",
                f"/events/calls/{bad}",
                json={},
                headers=h(),
                refused=True,
            )
        # bodies
        await self.http(
            "body 2MiB",
            "POST",
            "/contacts",
            data=b"{" + b" " * 2_100_000 + b"}",
            headers={**h(), "Content-Type": "application/json"},
            refused=True,
        )
        for name, body in (
            ("invalid json", b"{nope"),
            ("array", b"[1,2]"),
            ("non-utf8", b'{"name":"\xff\xfe"}'),
            ("deep", b"[" * 100_000 + b"]" * 100_000),
            ("huge number", b'{"name": 1e999999}'),
            ("nul", b'{"name":"a\x00"}'),
            ("empty", b""),
        ):
            await self.http(
                f"create {name}",
                "POST",
                "/contacts",
                data=body,
                headers={**h(), "Content-Type": "application/json"},
                refused=True,
            )
            await self.http(
                f"call log {name}",
                "POST",
                "/call-log",
                data=body,
                headers={**h(), "Content-Type": "application/json"},
                refused=True,
            )
            await self.http(
                f"webhook {name}",
                "POST",
                "/webhook",
                data=body,
                headers={"Content-Type": "application/json"},
            )
        bomb = gzip.compress(b"{" + b" " * 60_000_000 + b"}", 9)
        for encoding, body in (
            ("gzip", b"not gzip"),
            ("br", b"\x00\x01"),
            ("deflate", b"garbage"),
            ("zstd", b"x"),
            ("gzip, gzip", gzip.compress(b"{}")),
            ("gzip bomb", bomb),
        ):
            await self.http(
                f"encoding {encoding}",
                "POST",
                "/contacts",
                data=body,
                headers={
                    **h(),
                    "Content-Type": "application/json",
                    "Content-Encoding": encoding.split()[0] if "bomb" in encoding else encoding,
                },
                refused=True,
            )
        # huge phone numbers
        huge = "9" * 100_000
        await self.http(
            "call log huge phone",
            "POST",
            "/call-log/phoneNumber",
            json={
                "id": "e1",
                "startTime": 1,
                "endTime": 2,
                "direction": "IN",
                "participants": [
                    {"type": "LOCAL", "phoneNumber": huge},
                    {"type": "REMOTE", "phoneNumber": huge},
                ],
                "note": "",
                "state": "MISSED",
            },
            headers=h(),
            refused=True,
        )
        await self.http(
            "create huge phone",
            "POST",
            "/contacts",
            json={"name": "P", "phoneNumbers": [{"label": "WORK", "phoneNumber": huge}] * 50},
            headers=h(),
            refused=True,
        )
        await self.http(
            "query flood",
            "GET",
            "/contacts?" + "&".join(f"a{i}=1" for i in range(5000)),
            headers=h(),
        )
        # forged OAuth2 state
        cookie = secret("cookie")
        self.sent_secrets.append(cookie)
        for query, cookies in (
            ("code=x&state=forged", {"oauth_nonce": cookie}),
            ("code=x&state=forged", {}),
            ("code=x", {"oauth_nonce": cookie}),
            ("state=" + "s" * 9000, {"oauth_nonce": cookie}),
            ("error=access_denied&state=x", {}),
            ("code=%ff&state=%00", {"oauth_nonce": "%ff"}),
        ):
            await self.http(
                f"oauth2 callback {query[:24]}",
                "GET",
                f"/oauth2/callback?{query}",
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
                refused=True,
            )
            await self.http(
                f"oauth2 token {query[:24]}",
                "GET",
                f"/oauth2/token?{query}",
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
                refused=True,
            )
        await self.http("oauth2 redirect", "GET", "/oauth2/redirect?redirect=" + "x" * 3000)
        # CORS null
        await self.http("cors null", "GET", "/health", headers={"Origin": "null"})
        await self.http(
            "cors preflight null",
            "OPTIONS",
            "/contacts",
            headers={
                "Origin": "null",
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "x-provider-key",
            },
        )
        # stream spam: one user, then many
        spam = h()
        await asyncio.gather(
            *(
                self.http("stream spam one user", "POST", "/contacts/stream", headers=spam)
                for _ in range(10)
            )
        )
        await asyncio.gather(
            *(
                self.http("stream spam users", "POST", "/contacts/stream", headers=h())
                for _ in range(10)
            )
        )
        # raw sockets
        key = secret("key")
        self.sent_secrets.append(key)
        auth = secret("token")
        self.sent_secrets.append(auth)
        good = (
            f"x-provider-key: {key}\r\nx-provider-url: {self.crm.url}\r\n"
            f"x-user-id: u1\r\nAuthorization: Bearer {auth}"
        )
        for name, extra in (
            ("no colon", b"this is not a header\r\n"),
            ("non-utf8 value", b"x-provider-key: \xff\xfe\xfd\r\n"),
            ("non-utf8 name", b"x-pr\xffvider: 1\r\n"),
            ("nul", b"x-user-id: a\x00b\r\n"),
            ("obs fold", b"x-user-id: a\r\n  folded\r\n"),
            ("bare cr", b"x-user-id: a\rb\r\n"),
            ("space before colon", b"x-provider-key : k\r\n"),
            ("64KB header", b"x-big: " + b"a" * 65536 + b"\r\n"),
            ("flood", b"".join(f"x-h{i}: v\r\n".encode() for i in range(500))),
            ("dup key other value", b"x-provider-key: other\r\n"),
            ("dup user other value", b"x-user-id: u2\r\n"),
            ("dup url other value", b"x-provider-url: http://127.0.0.1:9\r\n"),
        ):
            head = (
                "DELETE /contacts/c1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"{good}\r\n"
            ).encode()
            status = await self.rawcase(f"raw {name}", head + extra + b"\r\n")
            if name.startswith("dup") and status not in REFUSALS:
                self.tally.notes.append(f"raw {name}: {status}, the first value was used")
        for name, data in (
            ("garbage line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
            ("http/0.9", b"GET /health\r\n\r\n"),
            ("bad method", b"D\xffLETE /contacts/c1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("long url", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("bad version", b"GET /health HTTP/9.9\r\nHost: a\r\n\r\n"),
            (
                "bad chunked",
                request_bytes(
                    "POST",
                    "/contacts",
                    [("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")],
                    extra=b"",
                )
                + b"zz\r\nabc\r\n0\r\n\r\n",
            ),
            (
                "cl and te",
                request_bytes(
                    "POST", "/contacts", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
                )
                + b"0\r\n\r\n",
            ),
            ("negative cl", request_bytes("POST", "/contacts", [("Content-Length", "-1")])),
        ):
            await self.rawcase(f"raw {name}", data)
        # hanging and trickling bodies (answered by BODY_READ_TIMEOUT)
        head = request_bytes(
            "POST",
            "/contacts",
            [
                ("x-provider-key", key),
                ("x-provider-url", self.crm.url),
                ("x-user-id", "u1"),
                ("Content-Type", "application/json"),
                ("Content-Length", "1000"),
            ],
        )
        await asyncio.gather(
            self.rawcase("raw hanging body", head + b'{"name":'),
            self.rawcase(
                "raw hanging webhook",
                request_bytes("POST", "/webhook", [("Content-Length", "100")]) + b"{",
            ),
            self.rawcase("raw half headers", b"GET /health HTTP/1.1\r\nHost: a\r\n", refused=False),
            self.hang_up(head + b'{"name": "half'),
        )
        # phone numbers near the body limit, on the memo's path
        for n in range(5):
            number = str(n) * 900_000
            await self.http(
                "update 0.9 MB phone",
                "PUT",
                "/contacts/c1",
                json={"name": "P", "phoneNumbers": [{"label": "WORK", "phoneNumber": number}]},
                headers=h(),
                refused=True,
            )

    async def hang_up(self, data: bytes) -> None:
        """A client that hangs up mid-body: no answer to count, the log is checked."""
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.close()


# -- processes -----------------------------------------------------------------------


async def run(redis: bool, rounds: int) -> tuple[Tally, dict[str, Any]]:
    """Start everything, probe, stop; the tally and figures."""
    crm = CountingCrm()
    crm_url = await crm.start()
    tally = Tally()
    figures: dict[str, Any] = {"backend": "redis" if redis else "memory"}
    async with contextlib.AsyncExitStack() as stack:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DEMO_CRM_URL": crm_url,
            "BODY_READ_TIMEOUT": str(BODY_READ_TIMEOUT),
            "NODE_ENV": "development",
            "LOG_LEVEL": "DEBUG",
            "OAUTH2_REDIRECT_URL": "http://127.0.0.1:9/done",
            "OAUTH2_IDENTIFIER": "PROBE",
            "INTEGRATION_NAME": "probe",
        }
        env.pop("REDIS_URL", None)
        if redis:
            env["REDIS_URL"] = stack.enter_context(RedisServer()).url
        port = free_port()
        env["PORT"] = str(port)
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the report
            prefix="probe-bridge-", suffix=".log", delete=False
        )
        process = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                "integration_bridge",
                "run",
                "examples.demo_bridge:DemoBridge",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(200):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.1),
                ):
                    break
                if process.poll() is not None:
                    output = Path(log.name).read_text()[-2000:]  # noqa: ASYNC240
                    raise RuntimeError(f"bridge died: {output}")
                await asyncio.sleep(0.05)
            probe = Probe(port, crm, tally)
            async with aiohttp.ClientSession() as session:
                probe.session = session
                await probe.http("warm-up", "GET", "/contacts", headers=probe.headers())
                rss = [rss_bytes(process.pid)]
                started = time.monotonic()
                for _ in range(rounds):
                    await probe.round()
                    rss.append(rss_bytes(process.pid))
                figures["seconds"] = round(time.monotonic() - started, 1)
            figures["rss_mib"] = [round(r / 2**20, 1) for r in rss]
            figures["rss_growth_mib"] = round((rss[-1] - rss[1 if len(rss) > 2 else 0]) / 2**20, 1)
            if redis:
                from redis.asyncio import Redis

                client = Redis.from_url(env["REDIS_URL"])
                keys = [k.decode("latin-1") async for k in client.scan_iter(count=1000)]
                await client.aclose()
                figures["redis_keys"] = len(keys)
                bad = [
                    k
                    for k in keys
                    if k.startswith(("cache-state:cache-state:", "AUTH:AUTH:"))
                    or "cache-state:AUTH:" in k
                ]
                tally.side_effects += [f"redis key of a refused caller: {k[:60]}" for k in bad]
            traversal = [
                p
                for p in crm.paths
                if "/../" in p or p.endswith("/..") or "%2F" in p.split("/api/contacts/")[0]
            ]
            tally.side_effects += [f"CRM path escaped: {p[:80]}" for p in traversal]
            # ids like c6?x=1 or c6#frag must never reach c6 itself
            tally.side_effects += [
                f"CRM write to c6 from an id that is not c6: {w}"
                for w in crm.writes
                if w.split("?")[0] in ("DELETE /api/contacts/c6", "PUT /api/contacts/c6")
            ]
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                tally.hangs.append("bridge did not stop within 30 s of SIGTERM")
            figures["exit_code"] = process.returncode
            await crm.stop()
        output = Path(log.name).read_text(errors="replace")  # noqa: ASYNC240 - after the run
        figures["log_lines"] = output.count("\n")
        figures["tracebacks"] = output.count("Traceback")
        for value in probe.sent_secrets:
            if value in output:
                tally.leaks.append(f"log holds a sent secret ({value[:6]}...)")
        if SECRET in output:
            tally.leaks.append("log holds the secret marker")
        for line in output.splitlines():
            if line.startswith("X-Evil"):
                tally.leaks.append("a path forged a log line")
            if "Error handling request" in line or "Server got itself in trouble" in line:
                tally.server_errors.append(f"log: {line[:120]}")
        figures["log"] = log.name
    return tally, figures


def report(tally: Tally, figures: dict[str, Any]) -> bool:
    """Print the figures; True when all counts are 0."""
    print(f"== {figures['backend']}: {tally.requests} requests in {figures.get('seconds')} s")
    print(f"   statuses: {dict(sorted(tally.statuses.items()))}")
    print(
        f"   RSS MiB per round: {figures.get('rss_mib')}"
        f" (growth after round 1: {figures.get('rss_growth_mib')})"
    )
    print(
        f"   log: {figures['log']} ({figures['log_lines']} lines,"
        f" {figures['tracebacks']} tracebacks), exit {figures['exit_code']}"
    )
    for name in ("server_errors", "hangs", "side_effects", "leaks", "notes", "held"):
        items: list[str] = getattr(tally, name)
        print(f"   {name}: {len(items)}")
        for item in sorted(set(items))[:15]:
            print(f"     - {item}")
    return not (tally.server_errors or tally.hangs or tally.side_effects or tally.leaks)


def main(argv: list[str] | None = None) -> int:
    """Run the probe with memory and/or Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", action="store_true", help="only with a private redis-server")
    parser.add_argument("--memory", action="store_true", help="only with the memory cache")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    backends = [False, True]
    if args.redis != args.memory:
        backends = [args.redis]
    ok = True
    for redis in backends:
        tally, figures = asyncio.run(run(redis, max(1, min(args.rounds, 20))))
        ok = report(tally, figures) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
