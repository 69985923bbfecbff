#!/usr/bin/env python3
"""Render the history views with a seeded database and save them under ``docs/img/``.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_history.py [--out DIR]

Writes ``history-sessions.png`` (the Sessions tab filtered to CP-03), ``history-report.png``
(Per CP, last 7 days), ``history-charts.png`` (last 7 days), ``history-cp-detail.png``
(CP-03's detail, opened as from the map) and ``driver-spending.png`` (the driver's Monthly
spending tab). The control center side uses a temporary SQLite database seeded by
``central_app.history.demo`` for the 12 seed CPs; the driver side six months of tickets.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from central_app.db import open_database  # noqa: E402
from central_app.gui.demo import DemoCentral  # noqa: E402
from central_app.gui.history import CpDetailDialog, HistoryWindow  # noqa: E402
from central_app.gui.history.reader import HistoryReader  # noqa: E402
from central_app.history import History  # noqa: E402
from central_app.history.demo import seed_history  # noqa: E402
from driver_app.central_watch import CentralLink, CentralStatus  # noqa: E402
from driver_app.gui.bridge import QtBridge  # noqa: E402
from driver_app.gui.window import DriverWindow  # noqa: E402
from driver_app.network import CpInfo  # noqa: E402
from driver_app.session import TicketInfo  # noqa: E402
from wire.kafka.messages import CpState  # noqa: E402
from wire.timefmt import format_ts, utc_now  # noqa: E402


def settle(app: QApplication, ms: int = 300) -> None:
    """``ms`` of events, and on until the history's reader threads have answered."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end or any(
        r.busy for w in app.topLevelWidgets() for r in w.findChildren(HistoryReader)
    ):
        app.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


def control_center(app: QApplication, out: Path, tmp: Path) -> None:
    seed = json.loads((REPO / "resources" / "seed.json").read_text())["charging_points"]
    prices = {cp["id"]: float(cp["price"]) for cp in seed}
    db = open_database(f"sqlite:///{tmp / 'history.db'}")
    drivers = [f"D-{i:03d}" for i in range(1, 41)]
    seed_history(db, cps=list(prices), drivers=drivers, sessions=2500, days=21, prices=prices)
    history = History(db)

    window = HistoryWindow(history)
    window.resize(1180, 680)
    window.show()
    window.sessions.cp.setCurrentText("CP-03")
    window.sessions.period.preset.setCurrentText("Last 7 days")
    settle(app)
    save(window, out / "history-sessions.png")
    window.tabs.setCurrentWidget(window.report)
    settle(app)
    save(window, out / "history-report.png")
    window.tabs.setCurrentWidget(window.charts)
    settle(app, 500)
    save(window, out / "history-charts.png")
    window.close()

    central = DemoCentral()
    live = {cp.cp_id: cp for cp in central.snapshot()}
    dialog = CpDetailDialog(history, "CP-03", view=live.get("CP-03"), set_price=central.set_price)
    dialog.resize(900, 660)
    dialog.show()
    settle(app, 500)
    save(dialog, out / "history-cp-detail.png")
    dialog.close()
    db.dispose()


def driver(app: QApplication, out: Path) -> None:
    seed = json.loads((REPO / "resources" / "seed.json").read_text())["charging_points"]
    rng = random.Random(3)
    now = utc_now()
    tickets = []
    for i in range(46):
        ended = now - timedelta(days=rng.uniform(0, 170))
        cp = rng.choice(seed)
        kwh = round(rng.uniform(4, 38), 3)
        minutes = rng.uniform(20, 90)
        tickets.append(
            TicketInfo(
                f"s{i}",
                cp["id"],
                kwh,
                round(kwh * float(cp["price"]), 2),
                format_ts(ended - timedelta(minutes=minutes)),
                format_ts(ended),
                "unplugged",
            )  # fmt: skip
        )
    tickets.sort(key=lambda t: t.ended_at)
    window = DriverWindow("D-001", QtBridge(), None, tickets=tickets)
    window.on_network(
        [
            CpInfo.from_event(
                CpState(
                    cp_id=cp["id"],
                    location=cp["location"],
                    x=cp["x"],
                    y=cp["y"],
                    price=cp["price"],
                    status="ACTIVE",
                )  # fmt: skip
            )
            for cp in seed
        ]
    )
    window.flush()
    window.on_central(CentralStatus(CentralLink.UP, "central", format_ts(now)))
    window.resize(1400, 860)
    window.show()
    window.history_tabs.setCurrentWidget(window.spending)
    window.spending.table.selectRow(0)
    settle(app, 500)
    save(window, out / "driver-spending.png")
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setPalette(app.style().standardPalette())
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evc-shots-") as tmp:
        control_center(app, args.out, Path(tmp))
    driver(app, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
