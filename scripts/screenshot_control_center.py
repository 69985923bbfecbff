#!/usr/bin/env python3
"""Render the control center with demo data and save ``docs/img/control-center.png``.

Runs headless (``QT_QPA_PLATFORM=offscreen`` is set if nothing else is): a fake Central with
the 12 seed CPs in all five states, driver requests in every phase and a few log lines.
``--standby`` renders a standby's read-only window instead (``docs/img/control-center-
standby.png``): the same CPs reach a ``StandbyView`` as ``cp_state`` events, as from Kafka.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from central_app.db import open_database  # noqa: E402
from central_app.gui import ControlCenterWindow  # noqa: E402
from central_app.gui.demo import DemoCentral, demo_log, demo_requests, seeded_cps  # noqa: E402
from central_app.history import History  # noqa: E402
from central_app.history.demo import seed_history  # noqa: E402
from central_app.network_state import state_of  # noqa: E402
from central_app.standby_view import StandbyView  # noqa: E402
from wire.kafka.messages import CentralAlive  # noqa: E402


def settle(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def standby_window() -> ControlCenterWindow:
    """central-b, standby of central-a: the seed CPs as the active one published them."""
    view = StandbyView("central-b")
    window = ControlCenterWindow(view, subtitle="TCP :7071 · Kafka 127.0.0.1:9092")
    for cp in seeded_cps():
        view.on_event(state_of(cp))
    view.on_event(CentralAlive(central_id="central-a", started_at="", role="active"))
    return window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "docs" / "img" / "control-center.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--select", default="CP-01", help='CP to select ("" for none)')
    parser.add_argument("--standby", action="store_true", help="a standby's read-only window")
    args = parser.parse_args()
    if args.standby and args.out == parser.get_default("out"):
        args.out = str(REPO / "docs" / "img" / "control-center-standby.png")

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setPalette(app.style().standardPalette())
    if args.standby:
        window = standby_window()
    else:
        central = DemoCentral()
        # a seeded history, so the toolbar shows History… and Details… as a real Central's
        seed = json.loads((REPO / "resources" / "seed.json").read_text())["charging_points"]
        prices = {cp["id"]: float(cp["price"]) for cp in seed}
        tmp = tempfile.TemporaryDirectory()
        db = open_database(f"sqlite:///{Path(tmp.name) / 'history.db'}")
        drivers = [f"D-{i:03d}" for i in range(1, 41)]
        seed_history(db, cps=list(prices), drivers=drivers, sessions=500, days=7, prices=prices)
        central.history = lambda: History(db)  # type: ignore[attr-defined]
        window = ControlCenterWindow(central, subtitle="TCP :7000 · Kafka 127.0.0.1:9092")
        for request in demo_requests():
            window.bridge.request_changed(request)
        for entry in demo_log():
            window.bridge.logged(entry)
        window.bridge.links_changed(central.links())
    window.resize(args.width, args.height)
    window.show()
    settle(600)
    if args.select:
        window.cp_panel.select_ids([args.select])
    settle(400)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({window.width()}x{window.height()})")
    window.close()
    QCoreApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
