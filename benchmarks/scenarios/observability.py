"""What tracing and metrics cost when they are on: the same bridge with them on vs off.

The baseline column here is the bench bridge with tracing and metrics off (the
default), run side by side with one that has them on; the ratio is on / off.
Traced bridges export every span over OTLP/HTTP to a sink on loopback that
accepts and discards (a collector would run elsewhere), so the figure includes
making, batching and encoding every span.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.report import Report
from benchmarks.scenarios.serving import load_pair
from benchmarks.servers import KEY, bridge, headers_for, warm


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint on loopback that answers 200 to every export."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


def scenario_observability(report: Report, args: argparse.Namespace) -> None:
    """/health and cached /contacts with tracing, and with metrics, on vs off."""
    contacts = {"BENCH_CONTACTS": "1000"}
    with otlp_sink() as endpoint, bridge(contacts) as off:
        warm(off.port)
        setups = {
            "tracing": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint},
            "metrics": {"METRICS_ENABLED": "true"},
        }
        for name, env in setups.items():
            with bridge({**contacts, **env}) as on:
                warm(on.port)
                for scenario, path, headers in (
                    (f"GET /health, {name} on vs off", "/health", {}),
                    (f"GET /contacts cached, {name} on vs off", "/contacts", headers_for(KEY)),
                ):
                    load_pair(report, scenario, on, off, path, args, headers)
