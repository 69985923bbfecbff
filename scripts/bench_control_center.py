#!/usr/bin/env python3
"""Benchmark the control center at fleet scale: is the GUI thread still responsive?

A feeder thread plays Central's core, calling the window's ``CentralListener`` (the bridge)
from outside the GUI thread, in three phases:

- steady: every CP reports once a second (in 10 slices; heartbeat-style refreshes carry a
  new ``updated_at``, the worst case), ``--supplying`` of them with kW/kWh/€ changing every
  second, and ~0.2 % of the others changing state each second;
- storm: every CP turns DISCONNECTED within ``--storm-seconds``, then ACTIVE again within
  as many seconds (a restart storm: ~10,000 calls/s each way at 10,000 CPs), then a quiet
  second to catch up;
- log burst: ``--log-burst`` log lines in a tight loop while the steady reports go on.

Printed figures, per phase:
- core: the feeder thread's time per listener call (what the GUI costs the core);
- loop lateness: how late a 10 ms ``PreciseTimer`` in the GUI thread fires (p50/p99/max);
  a lateness of 100 ms is a 100 ms stall the operator can feel;
- batch GUI CPU: the same drains in CPU time of the GUI thread (on a shared machine the
  wall-clock figures include waiting for a core; this one does not);
- batch: the bridge's drain, including everything it triggers synchronously (model flush,
  table ``dataChanged``, map/summary updates, status bar), per batch (median/max) and the
  CPs per batch;
- full gc: Python's generation-2 collections during the phase (they stop every thread);
- map repaint: a forced synchronous repaint of the map's viewport, at the whole-city zoom
  (aggregated at this scale) and zoomed in until tiles show, and of the CP table.

``--screenshot PATH`` saves the window (after the steady phase) as a PNG.
Usage: ``QT_QPA_PLATFORM=offscreen python scripts/bench_control_center.py --cps 10000``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from central_app.gui import ControlCenterWindow, freeze_startup_objects  # noqa: E402
from central_app.gui.bridge import CentralBridge  # noqa: E402
from central_app.gui.cp_model import Column  # noqa: E402
from central_app.gui.demo import DemoCentral, demo_log, demo_requests  # noqa: E402
from central_app.views import CpStatus, CpView, LogEntry, LogLevel  # noqa: E402
from citymap import load_city  # noqa: E402
from wire.timefmt import now_ts  # noqa: E402

IDLE_STATES = [CpStatus.ACTIVE, CpStatus.STOPPED, CpStatus.BROKEN, CpStatus.DISCONNECTED]


def make_cps(n: int, supplying: int, rng: random.Random) -> list[CpView]:
    """``n`` CPs on land (inside a district and out of the water: district outlines reach
    into the sea), ``supplying`` of them supplying; 1 in 200 has no position (registered
    without one)."""
    city = load_city()
    cps = []
    for i in range(n):
        while True:
            x, y = rng.uniform(5, city.width - 5), rng.uniform(5, city.height - 5)
            district = city.district_at(x, y)
            if district is not None and city.on_land(x, y):
                break
        if i < supplying:
            status = CpStatus.SUPPLYING
        else:
            status = rng.choices(IDLE_STATES, weights=[80, 6, 4, 10])[0]
        on = status is CpStatus.SUPPLYING
        cps.append(
            CpView(
                cp_id=f"CP-{i + 1:05d}",
                location=district.name,
                x=None if i % 200 == 199 else round(x, 1),
                y=None if i % 200 == 199 else round(y, 1),
                price=round(rng.uniform(0.25, 0.6), 2),
                status=status,
                engine=None if status is CpStatus.DISCONNECTED else "OK",
                admin_state="STOPPED" if status is CpStatus.STOPPED else "ACTIVE",
                driver_id=f"D-{rng.randint(1, 5000):04d}" if on else None,
                kw=rng.uniform(7, 50) if on else 0.0,
            )
        )
    rng.shuffle(cps)
    return cps


def next_state(cp: CpView, rng: random.Random) -> CpView:
    """One second of life: meters advance; ~0.2 % of idle CPs change state."""
    if cp.status is CpStatus.SUPPLYING:
        kw = max(1.0, min(60.0, cp.kw + rng.uniform(-1.5, 1.5)))
        kwh = cp.kwh + kw / 3600
        return replace(cp, kw=kw, kwh=kwh, eur=kwh * cp.price, updated_at=now_ts())
    if rng.random() < 0.002:
        status = rng.choice(IDLE_STATES)
        return replace(
            cp,
            status=status,
            engine=None if status is CpStatus.DISCONNECTED else "OK",
            admin_state="STOPPED" if status is CpStatus.STOPPED else "ACTIVE",
            updated_at=now_ts(),
        )
    return replace(cp, updated_at=now_ts())  # heartbeat-style refresh


class Feeder(threading.Thread):
    """Runs ``body(feeder)`` in a thread; ``call()`` times each listener call."""

    def __init__(self, body: Callable[[Feeder], None]) -> None:
        super().__init__(daemon=True, name="bench-core")
        self.body = body
        self.stop_event = threading.Event()
        self.calls = 0
        self.call_seconds = 0.0

    def call(self, fn: Callable[[object], None], arg: object) -> None:
        t0 = time.perf_counter()
        fn(arg)
        self.call_seconds += time.perf_counter() - t0
        self.calls += 1

    def run(self) -> None:
        self.body(self)

    def pace(self, period: float, items: list, send: Callable[[int], None]) -> None:
        """Call ``send(i)`` for every index, spread evenly over ``period`` (10 slices)."""
        slices = 10
        size = max(1, len(items) // slices)
        tick = time.monotonic()
        for start in range(0, len(items), size):
            for i in range(start, min(start + size, len(items))):
                send(i)
            tick += period / slices
            delay = tick - time.monotonic()
            if delay > 0 and self.stop_event.wait(delay):
                return


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Probe:
    """Event-loop lateness (10 ms timer) and the bridge's drain times, per phase."""

    def __init__(self, window: ControlCenterWindow) -> None:
        self.lateness: list[float] = []
        self.batches: list[tuple[float, int]] = []
        self.batch_cpu: list[float] = []  # the GUI thread's CPU time per drain
        self.gc_pauses: list[float] = []  # full (generation 2) collections, any thread
        self._gc_started = 0.0
        self.load_at_start = os.getloadavg()[0]
        gc.callbacks.append(self._on_gc)
        self._clock = QElapsedTimer()
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._timer.start(10)
        bridge, model = window.bridge, window.model
        self._rows = 0
        if hasattr(bridge, "drain"):  # the coalescing bridge: time each drain
            original = bridge.drain
            bridge._timer.timeout.disconnect()

            def timed() -> None:
                t0, c0 = time.perf_counter(), time.thread_time()
                original()
                self.batch_cpu.append(time.thread_time() - c0)
                self.batches.append((time.perf_counter() - t0, self._rows))
                self._rows = 0

            bridge._timer.timeout.connect(timed)
            bridge.cpsChanged.connect(lambda cps: setattr(self, "_rows", len(cps)))
        else:  # a bridge with one queued signal per call: time the model's flush
            model._timer.timeout.disconnect()

            def timed_flush() -> None:
                t0 = time.perf_counter()
                rows = model.flush()
                self.batches.append((time.perf_counter() - t0, rows))

            model._timer.timeout.connect(timed_flush)

    def _on_gc(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.lateness.append(max(0.0, (now - self._last) / 1e6 - 10.0))
        self._last = now

    def reset(self) -> None:
        self.lateness.clear()
        self.batches.clear()
        self.batch_cpu.clear()
        self.gc_pauses.clear()
        self.load_at_start = os.getloadavg()[0]
        self._last = self._clock.nsecsElapsed()

    def report(self, name: str, feeder: Feeder, seconds: float) -> None:
        late = self.lateness
        ms = [b[0] * 1000 for b in self.batches]
        rows = [b[1] for b in self.batches]
        per_call = feeder.call_seconds / max(1, feeder.calls) * 1e6
        print(
            f"[{name}] {feeder.calls} listener calls in {seconds:.1f} s"
            f"  (load average {self.load_at_start:.1f} -> {os.getloadavg()[0]:.1f}"
            f" on {os.cpu_count()} CPUs)"
        )
        print(f"  core cost per call     {per_call:.2f} µs (feeder thread)")
        print(
            f"  loop lateness ms       p50 {pct(late, 0.5):.1f}  p99 {pct(late, 0.99):.1f}"
            f"  max {max(late or [0]):.1f}  (>100 ms: {sum(x > 100 for x in late)},"
            f" >50 ms: {sum(x > 50 for x in late)} of {len(late)} ticks)"
        )
        print(
            f"  batch ms               n {len(ms)}  median {statistics.median(ms or [0]):.1f}"
            f"  p95 {pct(ms, 0.95):.1f}  max {max(ms or [0]):.1f}"
            f"  ({statistics.mean(rows or [0]):.0f} CPs per batch, max {max(rows or [0])})"
        )
        cpu = [c * 1000 for c in self.batch_cpu]
        if cpu:
            print(
                f"  batch GUI CPU ms       median {statistics.median(cpu):.1f}"
                f"  p95 {pct(cpu, 0.95):.1f}  max {max(cpu):.1f}  (thread time: what the GUI"
                " itself costs, whatever the machine's load)"
            )
        gcs = [g * 1000 for g in self.gc_pauses]
        print(f"  full gc                n {len(gcs)}  max {max(gcs or [0]):.1f} ms")


def run_phase(seconds: float, body: Callable[[Feeder], None]) -> Feeder:
    feeder = Feeder(body)
    feeder.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    feeder.stop_event.set()
    feeder.join()
    return feeder


def repaint_ms(widget) -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        widget.repaint()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cps", type=int, default=10000)
    parser.add_argument("--supplying", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0, help="steady phase")
    parser.add_argument("--storm-seconds", type=float, default=1.0, help="each way")
    parser.add_argument("--log-burst", type=int, default=10000)
    parser.add_argument("--sort", default="KW", choices=[c.name for c in Column])
    parser.add_argument(
        "--max-batch", type=int, default=CentralBridge.MAX_BATCH, help="CPs per bridge drain"
    )
    parser.add_argument("--screenshot", default="", help="save the window here (PNG)")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setPalette(app.style().standardPalette())
    rng = random.Random(1)
    cps = make_cps(args.cps, min(args.supplying, args.cps), rng)
    central = DemoCentral(list(cps))
    t0 = time.perf_counter()
    window = ControlCenterWindow(
        central, subtitle="TCP :7000 · Kafka 127.0.0.1:9092", max_batch=args.max_batch
    )
    for request in demo_requests():
        window.bridge.request_changed(request)
    for entry in demo_log():
        window.bridge.logged(entry)
    window.bridge.links_changed(replace(central.links(), monitors_connected=args.cps))
    window.resize(1400, 900)
    window.show()
    window.cp_panel.table.sortByColumn(Column[args.sort], Qt.SortOrder.DescendingOrder)
    app.processEvents()
    print(f"window with {args.cps} CPs built and shown in {time.perf_counter() - t0:.2f} s")
    freeze_startup_objects()  # as run_control_center does before its event loop
    probe = Probe(window)
    lock = threading.Lock()

    def steady(feeder: Feeder) -> None:
        rng = random.Random(7)
        while not feeder.stop_event.is_set():

            def send(i: int) -> None:
                with lock:
                    cps[i] = next_state(cps[i], rng)
                    cp = cps[i]
                feeder.call(window.bridge.cp_changed, cp)

            feeder.pace(1.0, cps, send)

    def storm(feeder: Feeder) -> None:
        for status in (CpStatus.DISCONNECTED, CpStatus.ACTIVE):

            def send(i: int, status: CpStatus = status) -> None:
                with lock:
                    cps[i] = replace(
                        cps[i],
                        status=status,
                        engine=None if status is CpStatus.DISCONNECTED else "OK",
                        admin_state="ACTIVE",
                        driver_id=None,
                        kw=0.0,
                        kwh=0.0,
                        eur=0.0,
                        updated_at=now_ts(),
                    )
                    cp = cps[i]
                feeder.call(window.bridge.cp_changed, cp)

            feeder.pace(args.storm_seconds, cps, send)

    def log_burst(feeder: Feeder) -> None:
        burster = threading.Thread(target=steady, args=(feeder,), daemon=True)
        burster.start()
        for i in range(args.log_burst):
            level = LogLevel.WARNING if i % 50 == 0 else LogLevel.INFO
            feeder.call(window.bridge.logged, LogEntry(f"burst line {i}", level, "CP-00001"))
        burster.join()

    started = time.perf_counter()
    feeder = run_phase(args.seconds, steady)
    probe.report("steady", feeder, time.perf_counter() - started)
    if args.screenshot:
        out = Path(args.screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        print(f"  screenshot             {out}")

    probe.reset()
    started = time.perf_counter()
    feeder = run_phase(2 * args.storm_seconds + 1.5, storm)
    probe.report("storm", feeder, time.perf_counter() - started)
    counts = window.model.counts()
    print(f"  after the storm        {counts[CpStatus.ACTIVE]} ACTIVE of {window.model.rowCount()}")

    probe.reset()
    started = time.perf_counter()
    feeder = run_phase(3.0, log_burst)
    probe.report("log burst", feeder, time.perf_counter() - started)
    lines = window.log_panel.view.document().blockCount()
    print(f"  log lines shown        {lines} (the rest summarised as '… N more')")

    view = window.map
    view.fit_city()
    app.processEvents()
    aggregated = getattr(view, "aggregated", lambda: False)()
    far = repaint_ms(view.viewport())
    scale = getattr(view.city_scene, "tile_scale", lambda: 1.0)()
    close_zoom = view.city_scene.AGGREGATE_LOD / scale * 1.05 if aggregated else 2.0
    view.set_zoom(close_zoom)
    view.centerOn(QPointF(500, 350))
    app.processEvents()
    view.viewport().repaint()  # first paint after zooming fits the tiles' text
    close = repaint_ms(view.viewport())
    table = repaint_ms(window.cp_panel.table.viewport())
    print(
        f"map repaint ms           whole city {far:.1f} ({'aggregated' if aggregated else 'tiles'})"
        f"  zoomed in x{view.zoom():.1f} {close:.1f}  table {table:.1f}"
    )
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
