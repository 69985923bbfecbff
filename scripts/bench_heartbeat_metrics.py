#!/usr/bin/env python3
"""What Central's metrics cost per heartbeat, and per scrape (issue 25; docs/operations.md).

Why: Central answers 10,000 heartbeats a second on its one owner thread; the metrics must not
show there. This times Central's real heartbeat path (``MonitorHandler`` → ``MonitorDesk``
on a hub of N connected CPs, the steady case: nothing changes) three ways, each on the same
pre-built requests, round-robin over the CPs:

- ``before``: the handler as it was (``desk.handle`` alone, no counting);
- ``after``: the handler with its ``FastHistogram`` (two ``perf_counter`` reads, a bisect,
  two additions; the heartbeats' counter is its count);
- ``prometheus_client``: what the same would cost with a ``Counter.inc`` and a
  ``Histogram.observe`` per heartbeat (each takes a lock), for comparison only.

and the owner's share of one scrape (``central_app.metrics.owner_figures``: CPs per state,
sessions, monitors) at N CPs. CPU time of this process, best of ``--repeat`` runs (the least
disturbed by the rest of the machine); figures are per call, in nanoseconds.

    .venv/bin/python scripts/bench_heartbeat_metrics.py
    .venv/bin/python scripts/bench_heartbeat_metrics.py --cps 10000 --calls 200000 --repeat 9
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: E402

from central_app.authorization import AuthorizationPolicy  # noqa: E402
from central_app.billing import Billing  # noqa: E402
from central_app.counts import HEARTBEAT_BOUNDS  # noqa: E402
from central_app.cp_state import CpMachine  # noqa: E402
from central_app.db_writer import InlineWriter  # noqa: E402
from central_app.hub import Hub  # noqa: E402
from central_app.ledger import Ledger  # noqa: E402
from central_app.metrics import owner_figures  # noqa: E402
from central_app.monitor_handler import MonitorHandler  # noqa: E402
from central_app.monitors import MonitorDesk  # noqa: E402
from central_app.supplies import SupplyDesk  # noqa: E402
from wire.kafka.topics import Topics  # noqa: E402
from wire.tcp_messages import EngineHealth, Heartbeat  # noqa: E402


class Outbox:
    def send(self, topic: str, key: str, event: object) -> None:
        pass


@dataclass
class Conn:
    cp_id: str
    peer: str = "127.0.0.1:1"
    last_valid_frame: float = 0.0
    closed: bool = False

    def close(self) -> None:
        self.closed = True


class Before:
    """The handler before issue 25: the desk alone."""

    def __init__(self, desk: MonitorDesk) -> None:
        self.desk = desk

    def __call__(self, conn: Conn, request: Heartbeat) -> object:
        return self.desk.handle(conn, request)


class WithClient:
    """The same counting done with prometheus_client's own metrics (a lock per call)."""

    def __init__(self, desk: MonitorDesk) -> None:
        self.desk = desk
        registry = CollectorRegistry()
        self.beats = Counter("bench_heartbeats", "heartbeats", registry=registry)
        self.took = Histogram(
            "bench_heartbeat_seconds", "time", buckets=HEARTBEAT_BOUNDS, registry=registry
        )

    def __call__(self, conn: Conn, request: Heartbeat) -> object:
        started = time.perf_counter()
        answer = self.desk.handle(conn, request)
        self.took.observe(time.perf_counter() - started)
        self.beats.inc()
        return answer


def build(cps: int) -> tuple[Hub, MonitorDesk, list[tuple[Conn, Heartbeat]]]:
    ledger = Ledger(None, InlineWriter())  # type: ignore[arg-type]
    hub = Hub(ledger, Outbox(), Topics("bench."))
    supplies = SupplyDesk(
        hub, policy=AuthorizationPolicy(authorization_ttl=30), billing=Billing(ledger, grace=10)
    )
    desk = MonitorDesk(hub, supplies)
    calls = []
    for i in range(cps):
        cp_id = f"CP-{i:05d}"
        cp = CpMachine(cp_id=cp_id, location="bench", x=0.0, y=0.0, price=0.35)
        hub.cps[cp_id] = cp
        conn = Conn(cp_id)
        hub.connections[cp_id] = conn
        cp.authenticate()
        cp.heartbeat(EngineHealth.OK)
        calls.append((conn, Heartbeat(cp_id, EngineHealth.OK)))
    return hub, desk, calls


def per_call_ns(
    handler: Callable[[Conn, Heartbeat], object],
    calls: list[tuple[Conn, Heartbeat]],
    count: int,
    repeat: int,
) -> float:
    work = (calls * (count // len(calls) + 1))[:count]
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for conn, request in work:
            handler(conn, request)
        best = min(best, (time.process_time_ns() - start) / count)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cps", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    hub, desk, calls = build(args.cps)
    handlers: dict[str, Callable[[Conn, Heartbeat], object]] = {
        "before": Before(desk),
        "after": MonitorHandler(desk),
        "prometheus_client": WithClient(desk),
    }
    results = {name: per_call_ns(h, calls, args.calls, args.repeat) for name, h in handlers.items()}
    counted = hub.counts.heartbeats.count
    assert counted == args.calls * args.repeat, counted
    started = time.process_time_ns()
    for _ in range(args.repeat):
        figures = owner_figures(hub)
    scrape_ms = (time.process_time_ns() - started) / args.repeat / 1e6
    assert figures.monitors == args.cps
    print(
        f"heartbeat handling at {args.cps} CPs, best of {args.repeat} x {args.calls} calls "
        f"(CPU ns per heartbeat; load average {os.getloadavg()[0]:.1f}):"
    )
    for name, ns in results.items():
        extra = "" if name == "before" else f"  (+{ns - results['before']:.0f} ns)"
        print(f"  {name:18} {ns:7.0f}{extra}")
    print(f"owner's share of one scrape at {args.cps} CPs: {scrape_ms:.2f} ms CPU")


if __name__ == "__main__":
    main()
