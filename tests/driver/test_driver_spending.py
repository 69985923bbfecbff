"""The driver's monthly spending and ticket export (no broker: the window without a runtime)."""

from __future__ import annotations

import io
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from driver_app.gui.bridge import QtBridge  # noqa: E402
from driver_app.gui.window import DriverWindow  # noqa: E402
from driver_app.history import TicketHistory  # noqa: E402
from driver_app.session import TicketInfo  # noqa: E402
from driver_app.spending import monthly_totals, read_tickets_csv, write_tickets_csv  # noqa: E402


def _ticket(n: int, month: int, day: int, kwh: float, eur: float) -> TicketInfo:
    # mid-day, mid-month: the same local month in any time zone
    start = f"2026-{month:02d}-{day:02d}T11:00:00.000Z"
    return TicketInfo(
        f"s{n}", f"CP-0{n % 5 + 1}", kwh, eur, start, start[:11] + "12:00:00.000Z", "unplugged"
    )


TICKETS = [
    _ticket(1, 9, 10, 10.0, 3.5),
    _ticket(2, 10, 5, 4.0, 1.4),
    _ticket(3, 10, 20, 6.0, 2.1),
    _ticket(4, 11, 14, 20.0, 7.25),
]


def test_monthly_totals_and_csv_round_trip(tmp_path: Path) -> None:
    months = monthly_totals(TICKETS)
    assert [(m.month, m.charges, m.eur) for m in months] == [
        ("2026-09", 1, 3.5),
        ("2026-10", 2, pytest.approx(3.5)),
        ("2026-11", 1, 7.25),
    ]
    assert months[1].label == "October 2026"
    # what the local history stores is what the export reads back
    history = TicketHistory(tmp_path)
    for t in TICKETS:
        history.add(t)
    out = io.StringIO()
    written = write_tickets_csv(TicketHistory(tmp_path).tickets(), out)
    assert read_tickets_csv(io.StringIO(out.getvalue())) == TICKETS
    assert (written.charges, written.eur) == (4, pytest.approx(14.25))


def test_spending_tab_shows_months_and_exports_the_selected_one(qtbot, tmp_path: Path) -> None:
    window = DriverWindow("D-008", QtBridge(), None, tickets=TICKETS[:3])
    qtbot.addWidget(window)
    window.show()
    panel = window.spending
    assert [m.month for m in panel.model.months] == ["2026-10", "2026-09"]  # newest first
    assert panel.bars == 2
    window.on_ticket(TICKETS[3], current=True)  # a new ticket arrives: the month appears
    assert panel.model.months[0].month == "2026-11" and panel.bars == 3
    assert panel.model.index(0, 3).data() == "7.25"
    panel.select_month("2026-10")
    assert panel.export_button.text() == "Export October 2026…"
    written = panel.export_csv(tmp_path / "october.csv")
    back = read_tickets_csv((tmp_path / "october.csv").open(encoding="utf-8"))
    assert [t.session_id for t in back] == ["s2", "s3"]
    assert (written.month, written.charges, written.eur) == ("2026-10", 2, pytest.approx(3.5))
    assert sum(t.eur for t in back) == pytest.approx(panel.model.months[1].eur)
