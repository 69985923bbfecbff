#!/usr/bin/env python3
"""Render the driver client with a fake network, a running charge and a ticket history.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_driver.py [OUT.png]

No Kafka: the window is fed the same snapshots the runtime would send. The CPs come from
``resources/seed.json`` in various states; the charge is a real ``ChargeSession`` driven
by notices, so the panel shows exactly what a driver sees.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtWidgets import QApplication  # noqa: E402

from driver_app.gui.bridge import QtBridge  # noqa: E402
from driver_app.gui.window import DriverWindow  # noqa: E402
from driver_app.network import CpInfo  # noqa: E402
from driver_app.services import RunState, RunView, ServiceEntry  # noqa: E402
from driver_app.session import ChargeSession, TicketInfo  # noqa: E402
from wire.kafka.messages import (  # noqa: E402
    AuthorizedNotice,
    CpState,
    RequestReceived,
    SupplyProgressNotice,
    SupplyStartedNotice,
    Ticket,
)
from wire.timefmt import format_ts, utc_now  # noqa: E402

STATES = {
    "CP-02": "SUPPLYING",
    "CP-04": "BROKEN",
    "CP-06": "SUPPLYING",
    "CP-08": "STOPPED",
    "CP-10": "DISCONNECTED",
    "CP-07": "SUPPLYING",  # this driver's own charge
}


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img" / "driver-client.png"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    seed = json.loads((REPO / "resources" / "seed.json").read_text())
    now = utc_now()
    history = [
        TicketInfo(
            f"s{i}",
            cp,
            kwh,
            round(kwh * price, 2),
            format_ts(now - timedelta(hours=h, minutes=m)),
            format_ts(now - timedelta(hours=h)),
            reason,
        )
        for i, (cp, kwh, price, h, m, reason) in enumerate(
            [
                ("CP-03", 12.406, 0.30, 50, 42, "unplugged"),
                ("CP-05", 8.118, 0.35, 26, 31, "unplugged"),
                ("CP-11", 3.950, 0.25, 5, 12, "fault"),
                ("CP-01", 15.220, 0.42, 2, 55, "unplugged"),
            ]
        )
    ]
    bridge = QtBridge()
    window = DriverWindow("D-001", bridge, None, tickets=history)
    window.on_network(
        [
            CpInfo.from_event(
                CpState(
                    cp_id=cp["id"],
                    location=cp["location"],
                    x=cp["x"],
                    y=cp["y"],
                    price=cp["price"],
                    status=STATES.get(cp["id"], "ACTIVE"),
                )
            )
            for cp in seed["charging_points"]
        ]
    )
    window.flush()
    window.on_central(_online())

    session = ChargeSession("r1", "CP-07", "D-001", time.monotonic(), location="Riverside")
    base = {"cp_id": "CP-07", "driver_id": "D-001"}
    started = format_ts(now - timedelta(minutes=7, seconds=42))
    window.on_step(session.view(), session.start())
    for notice in (
        RequestReceived(request_id="r1", **base),
        AuthorizedNotice(request_id="r1", session_id="s9", expires_at=format_ts(now), **base),
        SupplyStartedNotice(session_id="s9", started_at=started, request_id="r1", **base),
    ):
        step = session.apply(notice, time.monotonic())
        window.on_step(session.view(), step)
    session.apply(
        SupplyProgressNotice(session_id="s9", kw=11.4, kwh=1.462, eur=0.56, **base),
        time.monotonic(),
    )
    window.on_progress(session.view())
    entries = [ServiceEntry(i + 1, f"CP-{i + 1:02d}") for i in range(12)]
    window.on_run(RunView("driver-1.txt", 12, 3, RunState.REQUESTING, entries[2], (), False))
    window.run_panel.add_message("CP-05: finished, ticket — 8.118 kWh, 2.84 €, 04:12")
    window.run_panel.add_message("CP-99: line 4: unknown CP id 'CP-99' — skipped")
    window.resize(1400, 860)
    window.show()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(out)

    # The same charge a few minutes later: unplugged, ticket shown, history updated.
    ticket = Ticket(
        session_id="s9",
        kwh=2.874,
        eur=1.09,
        started_at=started,
        ended_at=format_ts(utc_now()),
        reason="unplugged",
        request_id="r1",
        **base,
    )
    step = session.apply(ticket, time.monotonic())
    window.on_step(session.view(), step)
    window.on_ticket(session.ticket, True)
    window.on_network([CpInfo.from_event(_state(seed, "CP-07", "ACTIVE"))])
    window.flush()
    for _ in range(10):
        app.processEvents()
        time.sleep(0.02)
    second = out.with_name("driver-ticket.png")
    window.grab().save(str(second))
    print(second)
    return 0


def _state(seed: dict, cp_id: str, status: str) -> CpState:
    cp = next(c for c in seed["charging_points"] if c["id"] == cp_id)
    return CpState(
        cp_id=cp_id, location=cp["location"], x=cp["x"], y=cp["y"], price=cp["price"], status=status
    )


def _online():
    from driver_app.central_watch import CentralLink, CentralStatus

    return CentralStatus(CentralLink.UP, "central", format_ts(utc_now()))


if __name__ == "__main__":
    sys.exit(main())
