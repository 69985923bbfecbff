"""The control center's history views on a database with a known history: the sessions view
(filters, totals, paging, sorting, CSV), the CP detail (from the map, the table and the
report; price change through the controls), the charts and the History window."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from central_app.billing import TicketData
from central_app.db import CpStateChangeRow, open_database
from central_app.gui.history import CpDetailDialog, HistoryWindow, SessionsModel
from central_app.gui.history.reader import HistoryReader
from central_app.gui.history.sessions_model import SessionColumn
from central_app.history import History, SessionFilter, read_csv
from central_app.history.demo import seed_history
from central_app.store import Store
from tests.gui.conftest import FIVE_STATES, FakeControls
from wire.timefmt import format_ts

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _ts(hours: float) -> str:
    return format_ts(DAY + timedelta(hours=hours))


# (session, cp, driver, kWh, €, started h, ended h, reason) on 2026-11-20 and the day after
KNOWN = [
    ("s1", "CP-03", "D-001", 10.0, 3.5, 8, 9, "unplugged"),
    ("s2", "CP-03", "D-002", 4.0, 1.4, 9.5, 10, "fault"),
    ("s3", "CP-01", "D-001", 7.5, 3.0, 10, 10.5, "unplugged"),
    ("s4", "CP-02", "D-003", 2.0, 0.9, 33, 34, "stopped"),
]


@pytest.fixture
def history(tmp_path: Path) -> History:
    db = open_database(f"sqlite:///{tmp_path / 'gui-history.db'}")
    store = Store(db)
    for cp in FIVE_STATES:
        store.add_cp(cp.cp_id, cp.location, cp.x, cp.y, cp.price, "test")
    for sid, cp, drv, kwh, eur, a, b, why in KNOWN:
        store.issue_ticket(TicketData(sid, cp, drv, kwh, eur, _ts(a), _ts(b), why))
    with db.engine.begin() as conn:  # CP-03 broken twice on the 20th
        conn.execute(
            CpStateChangeRow.__table__.insert(),
            [
                {"ts": _ts(h), "cp_id": "CP-03", "status": s, "reason": r}
                for h, s, r in (
                    (0, "ACTIVE", ""),
                    (12, "BROKEN", "engine KO"),
                    (13, "ACTIVE", ""),
                    (18, "BROKEN", "engine unreachable"),
                    (24, "ACTIVE", ""),
                )
            ],
        )
    return History(db)


class HistoryControls(FakeControls):
    def __init__(self, history: History) -> None:
        super().__init__(FIVE_STATES)
        self._history = history
        self.prices: list[tuple[str, float]] = []

    def history(self) -> History:
        return self._history

    def set_price(self, cp_id: str, price: float) -> None:
        self._record("set_price", cp_id)
        self.prices.append((cp_id, price))


@pytest.fixture
def hwindow(qtbot, history: History):
    from central_app.gui import ControlCenterWindow

    controls = HistoryControls(history)
    win = ControlCenterWindow(controls, flush_interval_ms=50)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    for dialog in list(win.history.details.values()):
        dialog.close()


def settle(qtbot, reader: HistoryReader) -> None:
    """Until the reader's queries (run off the GUI thread) have all been answered."""
    qtbot.waitUntil(lambda: not reader.busy, timeout=5000)


def _rows(qtbot, model: SessionsModel) -> list[str]:
    """The model's rows once read (asking for their pages as a view would)."""

    def read() -> bool:
        if model.loading:
            return False
        return all([model.record(r) is not None for r in range(model.rowCount())])

    qtbot.waitUntil(read, timeout=5000)
    return [model.record(r).session_id for r in range(model.rowCount())]


def test_filters_change_rows_and_totals(qtbot, qtmodeltester, history: History) -> None:
    window = HistoryWindow(history)
    qtbot.addWidget(window)
    panel = window.sessions
    assert _rows(qtbot, panel.model) == ["s4", "s3", "s2", "s1"]  # newest end first
    qtmodeltester.check(panel.model)
    assert panel.totals.text() == "4 sessions · 23.5 kWh · 8.80 €"
    panel.cp.setCurrentText("CP-03")
    assert _rows(qtbot, panel.model) == ["s2", "s1"]
    assert panel.totals.text() == "2 sessions · 14.0 kWh · 4.90 €"
    panel.reason.setCurrentIndex(panel.reason.findData("fault"))
    assert _rows(qtbot, panel.model) == ["s2"]
    panel.cp.setCurrentText("All charging points")
    panel.reason.setCurrentIndex(0)
    panel.driver.setText("D-001")
    panel.driver.editingFinished.emit()
    assert _rows(qtbot, panel.model) == ["s3", "s1"]
    panel.driver.clear()
    panel.driver.editingFinished.emit()
    panel.period.set_days(date(2026, 11, 21), date(2026, 11, 21))
    assert _rows(qtbot, panel.model) == ["s4"]
    settle(qtbot, panel.reader)
    assert panel.totals.text() == "1 session · 2.0 kWh · 0.90 €"  # not "1 sessions"
    panel.period.preset.setCurrentText("All time")
    panel.table.sortByColumn(SessionColumn.KWH, Qt.SortOrder.AscendingOrder)
    assert _rows(qtbot, panel.model) == ["s4", "s2", "s3", "s1"]
    assert panel.model.index(0, SessionColumn.EUR).data() == "0.90"


def test_sessions_model_reads_only_the_pages_it_shows(qtbot, history: History) -> None:
    seed_history(history.db, cps=["CP-01", "CP-02"], drivers=["D-001"], sessions=2000, days=3)
    model = SessionsModel(history)
    model.set_filter(SessionFilter())
    qtbot.waitUntil(lambda: model.rowCount() == 2004, timeout=5000)
    assert model.queries == 0  # the count only, no rows yet
    assert model.index(1999, 0).data() == "loading…"  # asked for, read off the GUI thread
    model.index(1, 0).data()
    model.index(2, 0).data()
    assert model.queries == 2  # two pages, not 2,004 rows
    settle(qtbot, model.reader)
    assert model.index(1999, 0).data() != "loading…"
    # the second half is read backwards from the end: the same rows as a forward read
    forward = history.page(SessionFilter(), offset=1800, limit=204)
    model.record(2003)  # the last page too
    settle(qtbot, model.reader)
    assert [model.record(r) for r in range(1800, 2004)] == forward


def test_csv_export_round_trips(qtbot, history: History, tmp_path: Path) -> None:
    window = HistoryWindow(history)
    qtbot.addWidget(window)
    panel = window.sessions
    panel.cp.setCurrentText("CP-03")
    _rows(qtbot, panel.model)
    written = panel.export_csv(tmp_path / "cp03.csv")
    back = read_csv(io.StringIO((tmp_path / "cp03.csv").read_text(encoding="utf-8")))
    assert sorted(r.session_id for r in back) == sorted(_rows(qtbot, panel.model))
    assert written == panel.model.totals
    assert (len(back), sum(r.kwh for r in back), sum(r.eur for r in back)) == (
        2,
        pytest.approx(panel.model.totals.kwh),
        pytest.approx(panel.model.totals.eur),
    )


def _open_detail_on_the_20th(qtbot, dialog: CpDetailDialog) -> None:
    dialog.period.set_days(date(2026, 11, 20), date(2026, 11, 20))
    settle(qtbot, dialog.reader)


def test_cp_detail_opens_from_a_map_double_click(qtbot, hwindow) -> None:
    view = hwindow.map
    centre = view.mapFromScene(view.tile("CP-03").sceneBoundingRect().center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: "CP-03" in hwindow.history.details)
    dialog = hwindow.history.details["CP-03"]
    assert dialog.isVisible()
    assert dialog.title.text().startswith("CP-03 · ")  # live line from the model
    _open_detail_on_the_20th(qtbot, dialog)
    summary = dialog.summary.text()
    assert "2 sessions · 14.0 kWh · 4.90 €" in summary
    assert "broken 2 times" in summary
    # 12 of 24 hours ACTIVE before/after, 1 + 6 hours BROKEN
    assert dialog.availability.shares == pytest.approx({"ACTIVE": 17 / 24, "BROKEN": 7 / 24})
    assert dialog.faults.rowCount() == 2
    assert dialog.faults.item(0, 1).text() == "engine unreachable"  # newest first
    assert dialog.days.rowCount() == 1 and dialog.daily_chart.points == 1
    assert dialog.sessions.rowCount() == 2


def test_cp_detail_opens_from_the_table_and_changes_the_price(qtbot, hwindow) -> None:
    table = hwindow.cp_panel.table
    proxy = hwindow.cp_panel.proxy
    index = proxy.mapFromSource(hwindow.model.index(hwindow.model.row_of("CP-01"), 0))
    table.scrollTo(index)
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center()
    )
    qtbot.mouseDClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center()
    )
    qtbot.waitUntil(lambda: "CP-01" in hwindow.history.details)
    dialog = hwindow.history.details["CP-01"]
    dialog.price.setValue(0.42)
    qtbot.mouseClick(dialog.price_button, Qt.MouseButton.LeftButton)
    assert hwindow.controls.prices == [("CP-01", 0.42)]
    assert "0.42" in dialog.price_note.text()
    hwindow.controls.fail = ValueError("price must be between 0 and 100 EUR/kWh")
    assert not dialog.change_price()
    assert "Price not changed" in dialog.price_note.text()


def test_history_window_from_the_toolbar_and_report_to_detail(qtbot, hwindow) -> None:
    button = hwindow.toolbar.widgetForAction(hwindow.history_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    window = hwindow.history.window
    assert window is not None and window.isVisible()
    report = window.report
    report.period.preset.setCurrentText("All time")
    settle(qtbot, report.reader)
    rows = {r.cp_id: r for r in report.model.rows}
    assert (rows["CP-03"].sessions, rows["CP-03"].eur, rows["CP-03"].faults) == (2, 4.9, 2)
    window.report.cpActivated.emit("CP-02")
    assert "CP-02" in hwindow.history.details


def test_charts_get_points_for_a_seeded_history(qtbot, history: History) -> None:
    seed_history(
        history.db, cps=["CP-01", "CP-02", "CP-03"], drivers=["D-001"], sessions=300, days=6
    )
    window = HistoryWindow(history)
    qtbot.addWidget(window)
    window.show()
    window.tabs.setCurrentWidget(window.charts)
    charts = window.charts
    qtbot.waitUntil(lambda: charts.energy.points > 0)
    assert charts.energy.points == 7 * 24  # last 7 days, hourly
    assert charts.simultaneous.points == 96
    assert charts.states.points >= 96  # at least one state's series over the slices
    since, until = charts.period.closed_bounds()
    hourly = history.energy_per_hour(since, until)
    assert sum(k for _, k in hourly) > 0
    assert max(n for _, n in history.simultaneous(since, until)) >= 1
