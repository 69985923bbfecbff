#!/usr/bin/env python3
"""What each session leaves in Central's memory (issue 21, item 4; docs/reliability.md, "The
soak").

Why: at steady load Central's memory must stay flat; the 2-hour soak showed its RSS growing
with the number of sessions. This drives Central's I/O-free core (the supply and monitor
desks, the ledger, billing; SQLite in a temporary directory, no Kafka, no sockets) through N
sessions, one every ``--every`` seconds of its own clock (0.15: the soak's 400 a minute):
request, authorize, supply_started, one reading, supply_ended, ticket. At four checkpoints it
prints the process's RSS and the session notes the ledger holds; with ``--trace`` it also
compares ``tracemalloc`` snapshots of the first and last checkpoints by line (the 15 lines
that grew most). RSS is measured without tracing (tracemalloc's own records would count).

    .venv/bin/python scripts/session_memory.py --sessions 20000
    .venv/bin/python scripts/session_memory.py --sessions 20000 --trace
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.db import open_database
from central_app.db_writer import InlineWriter
from central_app.hub import Hub
from central_app.ledger import Ledger
from central_app.monitors import MonitorDesk, machine_from
from central_app.store import DEFAULT_SEED, Store
from central_app.supplies import SupplyDesk
from wire.kafka.messages import (
    Authorize,
    ChargeRequest,
    Event,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.kafka.topics import Topics
from wire.tcp_messages import Auth, EngineHealth, Heartbeat, Register
from wire.timefmt import now_ts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Outbox:
    """Keeps only the last ``authorize`` (what the script needs); acknowledges at once."""

    def __init__(self) -> None:
        self.authorize: Authorize | None = None

    def send(
        self, topic: str, key: str, event: Event, on_delivered: Callable[[], None] | None = None
    ) -> None:
        if isinstance(event, Authorize):
            self.authorize = event
        if on_delivered is not None:
            on_delivered()


class Conn:
    peer = "127.0.0.1:1"
    cp_id: str | None = None
    last_valid_frame = 0.0
    closed = False

    def close(self) -> None:
        self.closed = True


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def run(sessions: int, every: float, trace: bool) -> None:
    data = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    store = Store(open_database(f"sqlite:///{data / 'central.db'}"))
    store.seed(DEFAULT_SEED)
    outbox, clock = Outbox(), Clock()
    ledger = Ledger(store, InlineWriter(), clock=clock)
    records, _ = ledger.load()
    hub = Hub(ledger, outbox, Topics("x."), clock=clock)
    for record in records:
        hub.cps[record.cp_id] = machine_from(record)
    desk = SupplyDesk(
        hub,
        policy=AuthorizationPolicy(authorization_ttl=30),
        billing=Billing(ledger, grace=10),
        clock=clock,
    )
    monitors = MonitorDesk(hub, desk, clock=clock)
    cps = [r.cp_id for r in records][:5]
    drivers = sorted(store.driver_keys())[:5]
    for cp_id in cps:
        conn = Conn()
        reply = monitors.handle(conn, Register(cp_id, "", None, None))
        monitors.handle(conn, Auth(cp_id, reply.credential))  # type: ignore[attr-defined]
        monitors.handle(conn, Heartbeat(cp_id, EngineHealth.OK))
    marks = {sessions * k // 4 for k in (1, 2, 3, 4)}
    snapshots: list[tracemalloc.Snapshot] = []
    if trace:
        tracemalloc.start(1)
    started = time.monotonic()
    for i in range(sessions):
        cp_id, driver_id = cps[i % len(cps)], drivers[i % len(drivers)]
        outbox.authorize = None
        desk.charge_request(
            ChargeRequest(request_id=f"req-{i:08d}-{'x' * 24}", driver_id=driver_id, cp_id=cp_id)
        )
        auth = outbox.authorize
        if auth is None:
            raise SystemExit(f"session {i} was not authorized")
        sid = auth.session_id
        desk.cp_event(
            SupplyStarted(session_id=sid, cp_id=cp_id, driver_id=driver_id, started_at=now_ts())
        )
        desk.cp_event(
            SupplyProgress(
                session_id=sid, cp_id=cp_id, driver_id=driver_id, seq=1, kw=7, kwh=0.1, eur=0.04
            )
        )
        desk.cp_event(
            SupplyEnded(
                session_id=sid,
                cp_id=cp_id,
                driver_id=driver_id,
                kwh=0.2,
                eur=0.08,
                started_at="t0",
                ended_at=now_ts(),
                reason="unplugged",
            )
        )
        clock.now += every
        if i % 20 == 0:
            desk.tick(clock.now)
            hub.flush_live()
        if i + 1 in marks:
            gc.collect()
            line = f"{i + 1:>7} sessions: notes {len(ledger.notes):>6}"
            if trace:
                snapshots.append(tracemalloc.take_snapshot())
                line += f", traced {tracemalloc.get_traced_memory()[0] / 1e6:.2f} MB"
            else:
                line += f", RSS {rss_mib():.1f} MiB"
            print(f"{line}  ({time.monotonic() - started:.0f} s)", flush=True)
    if trace:
        first, last = snapshots[0], snapshots[-1]
        grown = sum(s.size_diff for s in last.compare_to(first, "filename"))
        n = sessions - min(marks)
        print(f"traced growth over the last {n} sessions: {grown / n:.0f} B per session")
        for stat in last.compare_to(first, "lineno")[:15]:
            print(stat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--every", type=float, default=0.15, help="s of Central's clock")
    parser.add_argument("--trace", action="store_true", help="tracemalloc, by line")
    args = parser.parse_args()
    run(args.sessions, args.every, args.trace)


if __name__ == "__main__":
    main()
