#!/usr/bin/env python3
"""Benchmark the history with 100,000 tickets: opening the sessions view, filtering it, and
the reports and charts behind the other tabs.

Why: issue 14 asks for the sessions view to open and filter in under 1 s with 100,000
sessions. This prints figures (machines differ) instead of asserting. Usage::

    QT_QPA_PLATFORM=offscreen python scripts/bench_history.py [--sessions 100000] [--cps 500]

It seeds a temporary SQLite database (``central_app.history.demo``: tickets over 30 days,
a state-change log with faults), then times each step as the operator sees it: from the
action until the table has painted its first rows (``grab()`` forces the paint). Each step
runs ``--repeat`` times on a fresh filter; the first run (cold caches) and the median are
printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from central_app.db import open_database  # noqa: E402
from central_app.gui.history import CpDetailDialog, HistoryWindow  # noqa: E402
from central_app.gui.history.reader import HistoryReader  # noqa: E402
from central_app.gui.history.sessions_model import SessionColumn  # noqa: E402
from central_app.history import History  # noqa: E402
from central_app.history.demo import seed_history  # noqa: E402


def timed(fn: Callable[[], object]) -> float:
    """Until the answer is on screen: the queries run on the views' reader threads, so the
    step waits for every reader to be idle (and the GUI thread stays free meanwhile)."""
    start = time.perf_counter()
    fn()
    QApplication.processEvents()
    while any(r.busy for r in _readers()):
        QApplication.processEvents()
        time.sleep(0.001)
    QApplication.processEvents()
    return time.perf_counter() - start


def _readers() -> list[HistoryReader]:
    app = QApplication.instance()
    assert app is not None
    return [r for w in QApplication.topLevelWidgets() for r in w.findChildren(HistoryReader)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--cps", type=int, default=500)
    parser.add_argument("--drivers", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="evc-bench-history-") as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'history.db'}")
        cps = [f"CP-{i:04d}" for i in range(1, args.cps + 1)]
        drivers = [f"D-{i:04d}" for i in range(1, args.drivers + 1)]
        t = time.perf_counter()
        seed_history(db, cps=cps, drivers=drivers, sessions=args.sessions, days=args.days)
        seeded = time.perf_counter() - t
        history = History(db)
        print(
            f"seeded {args.sessions:,} tickets, {args.cps} CPs, {args.drivers:,} drivers over "
            f"{args.days} days in {seeded:.1f} s (SQLite, {db.engine.url.database})"
        )
        windows: list[HistoryWindow] = []

        def open_view() -> None:
            window = HistoryWindow(history)
            window.resize(1100, 700)
            window.show()
            window.sessions.table.grab()  # the first page painted
            windows.append(window)

        open_view()  # warm-up: Qt's first widgets and fonts, not the history
        panel = windows[0].sessions
        cp_cycle = iter(cps * 10)
        driver_cycle = iter(drivers * 10)
        reasons = ["fault", "stopped", "unplugged"] * 10

        def filtered(change: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                change()
                panel.table.grab()

            return run

        def reset() -> None:
            panel.cp.setCurrentText("All charging points")
            panel.driver.clear()
            panel.driver.editingFinished.emit()
            panel.reason.setCurrentIndex(0)
            panel.period.preset.setCurrentText("All time")

        def set_driver() -> None:
            panel.driver.setText(next(driver_cycle))
            panel.driver.editingFinished.emit()

        steps: list[tuple[str, Callable[[], None], bool]] = [
            ("open the History window (sessions + per-CP report)", open_view, False),
            ("filter: one CP", filtered(lambda: panel.cp.setCurrentText(next(cp_cycle))), True),
            ("filter: one driver", filtered(set_driver), True),
            ("filter: last 7 days", filtered(lambda: panel.period.preset.setCurrentText("Last 7 days")), True),
            ("filter: end reason", filtered(lambda: panel.reason.setCurrentIndex(panel.reason.findData(reasons.pop()))), True),
            ("sort by kWh", filtered(lambda: panel.table.sortByColumn(SessionColumn.KWH, Qt.SortOrder.DescendingOrder)), True),
            ("scroll to the last row", filtered(lambda: panel.table.scrollToBottom()), False),
            ("per-CP report, all time", lambda: windows[0].report.period.preset.setCurrentText("All time") or windows[0].report.reload(), False),
            ("charts, last 7 days", lambda: windows[0].charts.reload(), False),
            ("CP detail, last 7 days", lambda: CpDetailDialog(history, cps[2]).show(), False),
        ]  # fmt: skip
        print(f"\n{'step':52} {'first':>8} {'median':>8}   (of {args.repeat})")
        for name, step, needs_reset in steps:
            times = []
            for _ in range(args.repeat):
                if needs_reset:
                    reset()
                    if name == "sort by kWh":
                        panel.table.sortByColumn(SessionColumn.ENDED, Qt.SortOrder.DescendingOrder)
                    QApplication.processEvents()
                times.append(timed(step))
            flag = "  <- over 1 s" if statistics.median(times) > 1.0 else ""
            print(
                f"{name:52} {times[0] * 1000:7.0f}ms {statistics.median(times) * 1000:7.0f}ms{flag}"
            )
        print(
            f"\nrows in the view: {panel.model.rowCount():,}; pages read by the model: {panel.model.queries}"
        )
        for window in windows:
            window.close()
        db.dispose()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
