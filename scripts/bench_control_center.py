#!/usr/bin/env python3
"""Benchmark the control center under the design load: N CPs each reporting every second.

A feeder thread plays Central's core: every second it sends a fresh ``CpView`` for every CP
through the bridge (in 10 slices of N/10, as real reports trickle in), with live kW/kWh/€ for
supplying CPs and a few state changes. The window is shown (offscreen by default), the table
sorted by a live column (kW by default) so the model keeps re-sorting (at most once a second).

Printed figures:
- flush: the model's batch flush including everything it triggers synchronously (re-sort,
  proxy filter, table ``dataChanged``, map tiles of state changes, status bar counts);
- event-loop gaps: intervals of a 16 ms timer in the GUI thread; a gap well above 16 ms is a
  dropped frame (paints and flushes block the loop);
- full render: a forced full repaint of the map and of the table (upper bound of one frame).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from central_app.gui import ControlCenterWindow, freeze_startup_objects  # noqa: E402
from central_app.gui.cp_model import Column  # noqa: E402
from central_app.gui.demo import DemoCentral  # noqa: E402
from central_app.views import CpStatus, CpView  # noqa: E402
from wire.timefmt import now_ts  # noqa: E402

DISTRICTS = ["Old Town", "Harbour", "University", "Riverside", "Tech Park", "Green Hills"]


def make_cps(n: int, rng: random.Random) -> list[CpView]:
    cps = []
    for i in range(n):
        status = rng.choices(list(CpStatus), weights=[50, 8, 30, 6, 6])[0]
        supplying = status is CpStatus.SUPPLYING
        cps.append(
            CpView(
                cp_id=f"CP-{i + 1:04d}",
                location=rng.choice(DISTRICTS),
                x=rng.uniform(15, 985),
                y=rng.uniform(15, 685),
                price=round(rng.uniform(0.25, 0.6), 2),
                status=status,
                engine=None if status is CpStatus.DISCONNECTED else "OK",
                driver_id=f"D-{rng.randint(1, 500):03d}" if supplying else None,
                kw=rng.uniform(7, 50) if supplying else 0.0,
            )
        )
    return cps


def next_state(cp: CpView, rng: random.Random, dt: float) -> CpView:
    """One second of life: meters advance; ~1 % of CPs change state."""
    if rng.random() < 0.01:
        status = rng.choice(list(CpStatus))
        supplying = status is CpStatus.SUPPLYING
        return replace(
            cp,
            status=status,
            driver_id=f"D-{rng.randint(1, 500):03d}" if supplying else None,
            kw=rng.uniform(7, 50) if supplying else 0.0,
            kwh=0.0,
            eur=0.0,
            updated_at=now_ts(),
        )
    if cp.status is CpStatus.SUPPLYING:
        kw = max(1.0, min(60.0, cp.kw + rng.uniform(-1.5, 1.5)))
        kwh = cp.kwh + kw * dt / 3600
        return replace(cp, kw=kw, kwh=kwh, eur=kwh * cp.price, updated_at=now_ts())
    return replace(cp, updated_at=now_ts())  # heartbeat-style refresh


class Feeder(threading.Thread):
    def __init__(self, central: DemoCentral, cps: list[CpView], rate_hz: float) -> None:
        super().__init__(daemon=True, name="bench-feeder")
        self.central = central
        self.cps = cps
        self.period = 1.0 / rate_hz
        self.stop_event = threading.Event()
        self.sent = 0
        self.rng = random.Random(7)

    def run(self) -> None:
        slices = 10
        size = max(1, len(self.cps) // slices)
        next_tick = time.monotonic()
        while not self.stop_event.is_set():
            for start in range(0, len(self.cps), size):
                for i in range(start, min(start + size, len(self.cps))):
                    self.cps[i] = next_state(self.cps[i], self.rng, self.period)
                    self.central.publish(self.cps[i])
                    self.sent += 1
                next_tick += self.period / slices
                delay = next_tick - time.monotonic()
                if delay > 0 and self.stop_event.wait(delay):
                    return


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cps", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="reports per CP per second")
    parser.add_argument("--sort", default="KW", choices=[c.name for c in Column])
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    rng = random.Random(1)
    cps = make_cps(args.cps, rng)
    central = DemoCentral(list(cps))
    window = ControlCenterWindow(central)
    window.resize(1400, 900)
    window.show()
    window.cp_panel.table.sortByColumn(Column[args.sort], Qt.SortOrder.DescendingOrder)
    app.processEvents()
    freeze_startup_objects()  # as run_control_center does before its event loop

    model = window.model
    flushes: list[float] = []
    flushed_rows: list[int] = []

    def timed_flush() -> None:
        started = time.perf_counter()
        flushed_rows.append(model.flush())
        flushes.append(time.perf_counter() - started)

    model._timer.timeout.disconnect()  # bench-only: time the flush with all it triggers
    model._timer.timeout.connect(timed_flush)

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    frame_timer = QTimer()
    frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
    frame_timer.timeout.connect(tick)
    frame_timer.start(16)

    feeder = Feeder(central, cps, args.rate)
    started = time.perf_counter()
    feeder.start()
    loop = QEventLoop()
    QTimer.singleShot(int(args.seconds * 1000), loop.quit)
    loop.exec()
    feeder.stop_event.set()
    feeder.join()
    elapsed = time.perf_counter() - started
    frame_timer.stop()

    renders = {}
    for name, widget in (
        ("map", window.map.viewport()),
        ("table", window.cp_panel.table.viewport()),
    ):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            widget.grab()
            times.append(time.perf_counter() - t0)
        renders[name] = statistics.median(times) * 1000

    ms = [f * 1000 for f in flushes]
    print(f"control center benchmark: {args.cps} CPs x {args.rate:g}/s for {elapsed:.1f}s")
    print(f"  updates sent           {feeder.sent} ({feeder.sent / elapsed:.0f}/s)")
    print(
        f"  flushes                {len(flushes)} (every {elapsed / max(1, len(flushes)) * 1000:.0f} ms),"
        f" {statistics.mean(flushed_rows or [0]):.0f} CPs changed per flush"
    )
    print(
        f"  flush time ms          median {statistics.median(ms or [0]):.1f}"
        f"  p95 {pct(ms, 0.95):.1f}  max {max(ms or [0]):.1f}"
    )
    print(
        f"  event-loop gaps ms     median {statistics.median(gaps or [0]):.1f}"
        f"  p95 {pct(gaps, 0.95):.1f}  p99 {pct(gaps, 0.99):.1f}  max {max(gaps or [0]):.1f}"
        f"  (16 ms timer; >50 ms: {sum(g > 50 for g in gaps)} of {len(gaps)})"
    )
    print(
        f"  full render ms         map {renders['map']:.1f}  table {renders['table']:.1f}"
        f"  (forced repaint of the whole viewport)"
    )
    print(f"  rows in table          {model.rowCount()}; pending at end {model.pending_count()}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
