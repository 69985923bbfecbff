"""Metrics and health probes over HTTP, for every long-running program (docs/operations.md).

With ``--metrics-port [ADDR:]PORT`` (off by default; ADDR defaults to 127.0.0.1) a program
serves, on one small HTTP thread of its own:

- ``GET /metrics``: the Prometheus text format (``prometheus_client``), built at scrape time;
- ``GET /healthz``: 200 ``ok`` while the process runs and this thread answers (liveness);
- ``GET /readyz``: 200 ``ready``, or 503 with the reason in one line (readiness: a standby
  Central answers 503 ``standby …``), for compose, systemd or Kubernetes probes.

Hot paths never call a ``prometheus_client`` metric (each ``inc``/``observe`` takes a lock):
they count in plain ints (``wire.tally``), and the program's collect function turns them into
metric families here, at scrape time.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from wire.tally import INF, FastHistogram

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1"

Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


# --- metric families ---------------------------------------------------------------------


def histogram(
    name: str,
    documentation: str,
    hist: FastHistogram,
    labels: Mapping[str, str] | None = None,
) -> HistogramMetricFamily:
    """A histogram family from a :class:`~wire.tally.FastHistogram`'s snapshot."""
    labels = labels or {}
    family = HistogramMetricFamily(name, documentation, labels=list(labels))
    buckets, total = hist.buckets()
    family.add_metric(
        list(labels.values()),
        buckets=[("+Inf" if bound == INF else repr(bound), n) for bound, n in buckets],
        sum_value=total,
    )
    return family


def _family(
    kind: type[Family],
    name: str,
    documentation: str,
    value: float | Mapping[str, float],
    label: str,
) -> Family:
    """A counter or gauge family: one value, or one series per key of ``value`` under
    ``label`` (sorted, so a scrape reads the same from one time to the next)."""
    if not isinstance(value, Mapping):
        return kind(name, documentation, value=value)
    family = kind(name, documentation, labels=[label])
    for key, number in sorted(value.items()):
        family.add_metric([key], number)
    return family


def counter(
    name: str, documentation: str, value: float | Mapping[str, float], label: str = ""
) -> CounterMetricFamily:
    """A counter family: one value, or one series per key of ``value`` under ``label``."""
    return _family(CounterMetricFamily, name, documentation, value, label)


def gauge(
    name: str, documentation: str, value: float | Mapping[str, float], label: str = ""
) -> GaugeMetricFamily:
    """A gauge family: one value, or one series per key of ``value`` under ``label``."""
    return _family(GaugeMetricFamily, name, documentation, value, label)


def one_of(current: str, choices: Iterable[str]) -> dict[str, float]:
    """An enum as a gauge: 1 for the current choice, 0 for the others (so a query sees
    every state, also those no process is in)."""
    return {choice: float(choice == current) for choice in choices}


class Collect(Collector):
    """A ``prometheus_client`` collector from a function (read at each scrape)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self._collect())
        except Exception:  # a scrape never ends the program; the probe still answers
            log.exception("collecting metrics failed")
            return []


# --- the HTTP side ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str = "ready"


def always_ready() -> Readiness:
    return Readiness(True)


def readiness(problems: Iterable[str], ready: str = "ready") -> Readiness:
    """Ready, said as ``ready``, when there are no ``problems``; else not ready, naming every
    one of them (an operator reading the probe sees all that is missing at once)."""
    missing = list(problems)
    if missing:
        return Readiness(False, f"not ready: {'; '.join(missing)}")
    return Readiness(True, ready)


def address(text: str) -> tuple[str, int]:
    """``PORT`` (on 127.0.0.1) or ``ADDR:PORT`` (``0.0.0.0:9101`` for every interface)."""
    host, sep, number = text.rpartition(":")
    if not sep:
        host = DEFAULT_ADDRESS
    host = host.strip("[]")
    try:
        port = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [ADDR:]PORT, got {text!r}") from None
    if not 0 <= port <= 65535 or (sep and not host):
        raise argparse.ArgumentTypeError(f"expected [ADDR:]PORT, got {text!r}")
    return host, port


def add_metrics_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=address,
        default=None,
        metavar="[ADDR:]PORT",
        help="serve Prometheus metrics (/metrics) and the probes /healthz and /readyz over "
        "HTTP on this port (on 127.0.0.1 unless ADDR is given, e.g. 0.0.0.0:9101); default off",
    )


class MetricsServer:
    """``/metrics``, ``/healthz``, ``/readyz`` on a daemon thread (``ThreadingHTTPServer``)."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        ready: Callable[[], Readiness] = always_ready,
    ) -> None:
        self.registry = registry
        self.ready = ready
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.answer(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("metrics http: " + format, *args)

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self.host, self.port = self._http.server_address[:2]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="metrics-http", daemon=True
        )

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/metrics":
            status, kind, body = 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        elif path == "/healthz":
            status, kind, body = 200, "text/plain; charset=utf-8", b"ok\n"
        elif path == "/readyz":
            try:
                verdict = self.ready()
            except Exception as exc:  # a probe says why, it never takes the program down
                log.exception("readiness check failed")
                verdict = Readiness(False, f"readiness check failed: {exc}")
            status = 200 if verdict.ready else 503
            kind, body = "text/plain; charset=utf-8", f"{verdict.reason}\n".encode()
        else:
            status, kind, body = 404, "text/plain; charset=utf-8", b"/metrics /healthz /readyz\n"
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def serve_metrics(
    args: argparse.Namespace,
    program: str,
    collect: Callable[[], Iterable[Metric]],
    ready: Callable[[], Readiness] = always_ready,
) -> MetricsServer | None:
    """Start the HTTP server when ``--metrics-port`` was given (None otherwise); a port that
    cannot be had ends the program with one line and exit 2, like its other ports."""
    where = getattr(args, "metrics_port", None)
    if where is None:
        return None
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, memory, open fds
    registry.register(Collect(collect))
    host, port = where
    try:
        server = MetricsServer(host, port, registry, ready).start()
    except OSError as exc:
        print(
            f"{program}: error: cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None
    print(
        f"{program}: metrics on http://{host}:{server.port}/metrics (probes /healthz, /readyz)",
        flush=True,
    )
    return server


def probe(url: str, timeout: float = 3.0) -> int:
    """``python -m wire.metrics URL``: 0 when ``URL`` answers 200, else 1, with the body on
    stdout; for container health checks (the image has Python, not curl) and scripts."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            print(answer.read().decode(errors="replace").strip())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{exc.code}: {exc.read().decode(errors='replace').strip()}")
    except OSError as exc:
        print(f"no answer from {url}: {exc}")
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m wire.metrics http://HOST:PORT/readyz", file=sys.stderr)
        sys.exit(2)
    sys.exit(probe(sys.argv[1]))
