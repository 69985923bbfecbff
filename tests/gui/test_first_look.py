"""What a first-time operator meets (issue 23): chart axes that read, texts that are not cut,
an availability bar that does not pass "no data" off as a state, a Stop all that says what it
will do, district names that tiles do not cover."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCharts import QValueAxis
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPolygonF

from central_app.gui import theme
from central_app.gui.history import CpDetailDialog, HistoryWindow
from central_app.gui.history.availability_bar import NO_RECORD_COLOUR
from central_app.gui.history.charts import DailyRevenueChart, SimultaneousChart, StatesChart
from central_app.gui.history.sessions_panel import ANY_CP
from central_app.gui.network_questions import resume_all_question, stop_all_question
from central_app.gui.requests_model import RequestColumn
from central_app.history import NO_RECORD, DayTotal
from central_app.views import CpStatus, RequestPhase, RequestView
from citymap.scene import CityScene
from citymap.tiles import CpTile, TileData
from tests.gui.conftest import FIVE_STATES, make_cp
from tests.gui.test_history import history, settle  # noqa: F401  (the fixture)

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def value_axis_labels(chart) -> list[str]:  # type: ignore[no-untyped-def]
    """The labels Qt Charts draws on the value axis: with fixed ticks, ``tickCount`` values
    from min to max, each formatted with ``labelFormat`` (printf, as Qt does)."""
    (axis,) = [a for a in chart.chart().axes(Qt.Orientation.Vertical) if isinstance(a, QValueAxis)]
    assert axis.tickType() is QValueAxis.TickType.TicksFixed
    n = axis.tickCount()
    step = (axis.max() - axis.min()) / (n - 1)
    return [axis.labelFormat() % (axis.min() + i * step) for i in range(n)]


# --- 1. chart axes --------------------------------------------------------------------------


def test_revenue_of_cents_reads_in_cents_not_zeros(qtbot) -> None:
    chart = DailyRevenueChart()
    qtbot.addWidget(chart)
    chart.show_days([DayTotal("2026-11-20", 1, 0.6, 0.18), DayTotal("2026-11-21", 1, 0.2, 0.07)])
    assert value_axis_labels(chart) == ["0.00", "0.05", "0.10", "0.15", "0.20"]


def test_supplies_at_once_count_in_whole_supplies(qtbot) -> None:
    chart = SimultaneousChart()
    qtbot.addWidget(chart)
    chart.show_peaks([(T0 + timedelta(hours=h), n) for h, n in enumerate([0, 1, 2, 1])])
    assert value_axis_labels(chart) == ["0", "1", "2"]  # was 0, 1, 1, 2, 2


def test_states_chart_counts_whole_charging_points(qtbot) -> None:
    chart = StatesChart()
    qtbot.addWidget(chart)
    slices = [T0 + timedelta(hours=h) for h in range(4)]
    chart.show_states(slices, {"ACTIVE": [1.0, 2.0, 2.0, 1.5], "BROKEN": [0.0, 0.0, 0.25, 0.5]})
    labels = value_axis_labels(chart)
    assert labels == ["0", "1", "2", "3"] and len(set(labels)) == len(labels)  # was 0 0 0 1 1…


# --- 3. cut texts ---------------------------------------------------------------------------


def test_session_filters_show_their_whole_text(qtbot, history) -> None:  # noqa: F811
    window = HistoryWindow(history)
    qtbot.addWidget(window)
    window.resize(400, 500)  # as narrow as it lets itself be
    window.show()
    qtbot.waitExposed(window)
    panel = window.sessions
    settle(qtbot, window.reader)
    cp_edit = panel.cp.lineEdit()
    assert cp_edit.text() == ANY_CP and cp_edit.cursorPosition() == 0  # not "l charging points"
    assert cp_edit.width() >= cp_edit.fontMetrics().horizontalAdvance(ANY_CP) + 4
    driver = panel.driver
    needed = driver.fontMetrics().horizontalAdvance(driver.placeholderText())
    assert driver.width() >= needed + 24  # the placeholder, and the clear button beside it


def test_request_detail_has_the_remaining_width_and_a_tooltip(qtbot, window) -> None:
    detail = "ticket: 0.615 kWh, 0.28 EUR (unplugged)"
    window.requests.update_request(
        RequestView("r1", "D-002", "CP-02", RequestPhase.FINISHED, detail=detail)
    )
    view = window.requests_view
    qtbot.waitUntil(lambda: view.columnWidth(RequestColumn.DETAIL) > 0)
    width = view.columnWidth(RequestColumn.DETAIL)
    assert width >= view.fontMetrics().horizontalAdvance(detail) + 8  # was "…0.28 EU…"
    index = window.requests.index(0, RequestColumn.DETAIL)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == detail


# --- 4. misleading --------------------------------------------------------------------------


def test_stop_all_says_how_many_are_connected_and_what_happens_to_the_others() -> None:
    text = stop_all_question(FIVE_STATES)  # 6 CPs: 5 connected (one supplying), 1 not
    assert text.startswith("Stop all 6 charging points?")
    assert "5 are connected: they turn “Out of Order” now" in text
    assert "1 running supply ends now and is ticketed" in text
    assert "1 is not connected: marked stopped too, it stays “Out of Order” when it connects" in (
        text
    )
    seeded = [make_cp(f"CP-{i:02d}", CpStatus.DISCONNECTED) for i in range(1, 13)]
    text = stop_all_question(seeded[:7] + [make_cp("CP-13")])
    assert "1 is connected: it turns “Out of Order” now." in text
    assert "7 are not connected: marked stopped too, they stay" in text
    assert "resume" in resume_all_question(FIVE_STATES).lower()
    assert "1 charging point is stopped now and goes back in service" in resume_all_question(
        FIVE_STATES
    )


def test_stop_all_dialog_shows_that_text(qtbot, window, controls, monkeypatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(window, "_confirm", lambda title, text: asked.append(text) or False)
    window.stop_all()
    assert asked == [stop_all_question(window.model.cps())] and controls.calls == []


def test_availability_starts_at_the_first_record_and_no_data_is_not_grey(
    qtbot,
    history,  # noqa: F811
) -> None:
    dialog = CpDetailDialog(history, "CP-03")
    qtbot.addWidget(dialog)
    dialog.period.set_days(date(2026, 11, 19), date(2026, 11, 20))  # first record: the 20th
    settle(qtbot, dialog.reader)
    bar, text = dialog.availability, dialog.availability_text.text()
    assert NO_RECORD not in bar.shares and sum(bar.shares.values()) == pytest.approx(1.0)
    assert bar.shares["BROKEN"] == pytest.approx(7 / 24)  # 12-13 h and 18-24 h of the 20th
    assert "since 2026-11-20 00:00 UTC, the first record in this period" in text
    assert "No data" not in text

    nothing = CpDetailDialog(history, "CP-01")  # no state ever recorded
    qtbot.addWidget(nothing)
    settle(qtbot, nothing.reader)
    assert nothing.availability.shares == {NO_RECORD: 1.0}
    assert nothing.availability_text.text().startswith("No data:")
    image = nothing.availability.grab().toImage()  # hatched: not the map's Disconnected grey
    y = image.height() // 2
    colours = {image.pixelColor(x, y).name() for x in range(5, image.width() - 5)}
    grey = theme.STATUS_COLOURS[CpStatus.DISCONNECTED]
    assert len(colours) >= 2 and grey not in colours and grey != NO_RECORD_COLOUR


def test_one_session_is_singular(qtbot, history) -> None:  # noqa: F811
    dialog = CpDetailDialog(history, "CP-02")
    qtbot.addWidget(dialog)
    dialog.period.set_days(date(2026, 11, 21), date(2026, 11, 21))
    settle(qtbot, dialog.reader)
    assert "1 session ·" in dialog.summary.text() and "broken 0 times" in dialog.summary.text()


def test_district_names_move_out_from_under_the_tiles(qtapp_scene) -> None:
    scene, district = qtapp_scene
    label = next(item for item, anchor, _ in scene._labels if anchor == district.label_at)
    x, y = district.label_at
    scene.update_tile(TileData("CP-X", x, y, CpStatus.ACTIVE, "here", 0.3))
    tile = scene.tile("CP-X")
    r = label.boundingRect()
    box = QRectF(label.pos().x() + r.x(), label.pos().y() + r.y(), r.width(), r.height())
    assert not box.intersects(tile.sceneBoundingRect())
    polygon = QPolygonF([QPointF(px, py) for px, py in district.polygon])
    assert polygon.containsPoint(label.pos(), Qt.FillRule.OddEvenFill)
    scene.remove_tile("CP-X")
    assert (label.pos().x(), label.pos().y()) == district.label_at  # back at its anchor


@pytest.fixture
def qtapp_scene(qapp):  # type: ignore[no-untyped-def]
    scene = CityScene()
    scene.set_view_zoom(1.0)  # the names' size in map units is their size in pixels
    district = max(scene.city.districts, key=lambda d: len(d.name))
    yield scene, district
    assert isinstance(scene.tiles(), list) and all(isinstance(t, CpTile) for t in scene.tiles())
