"""The control center window: one model feeding table and map, operator commands, status bar.

Waits use ``qtbot.waitUntil`` (the model flushes on a timer), never sleeps.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox

from central_app.gui import theme
from central_app.gui.cp_model import STATUS_ROLE, Column
from central_app.views import CpStatus, LinkStatus, LogEntry, LogLevel, RequestPhase, RequestView
from citymap.tiles import OperatorStyle
from tests.gui.conftest import FIVE_STATES, make_cp


def _source_index(window, cp_id: str, column: Column):
    return window.model.index(window.model.row_of(cp_id), column)


def _tile_pixel(window, cp_id: str) -> QColor:
    """The colour painted inside a tile's body on the rendered map (away from text/stripe)."""
    view = window.map
    tile = view.tile(cp_id)
    rect = view.mapFromScene(tile.sceneBoundingRect()).boundingRect()
    image = view.viewport().grab().toImage()
    ratio = image.devicePixelRatio()
    point = QPoint(rect.right() - 6, rect.top() + 3)
    return image.pixelColor(int(point.x() * ratio), int(point.y() * ratio))


def _click_row(qtbot, window, cp_id: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    table = window.cp_panel.table
    proxy_index = window.cp_panel.proxy.mapFromSource(_source_index(window, cp_id, Column.ID))
    table.scrollTo(proxy_index)
    qtbot.mouseClick(
        table.viewport(),
        Qt.MouseButton.LeftButton,
        modifier,
        table.visualRect(proxy_index).center(),
    )


def _press(qtbot, window, action) -> None:
    button = window.toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _answering(monkeypatch, answer: QMessageBox.StandardButton) -> list[str]:
    """Every confirmation the window asks for gets ``answer``; the returned list fills with
    the questions' texts, so that a test sees what the operator was asked and how often."""
    asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_snapshot_fills_table_map_and_counts(window) -> None:
    assert window.model.rowCount() == len(FIVE_STATES)
    assert window.cp_panel.proxy.rowCount() == len(FIVE_STATES)
    assert {t.cp_id for t in window.map.city_scene.tiles()} == {cp.cp_id for cp in FIVE_STATES}
    counts = window.state_counts.counts
    assert counts[CpStatus.ACTIVE] == 2
    assert all(counts[s] == 1 for s in CpStatus if s is not CpStatus.ACTIVE)
    supplying = window.map.tile("CP-03").tile_data
    assert (supplying.kw, supplying.eur, supplying.driver_id) == (22.0, 1.4, "D-007")


def test_cp_changed_recolours_row_and_tile_after_flush(qtbot, window) -> None:
    broken_fill = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    assert _tile_pixel(window, "CP-01") != broken_fill

    # From another thread, as the core does: the bridge hands it to the GUI thread.
    worker = threading.Thread(
        target=window.bridge.cp_changed,
        args=(
            make_cp("CP-01", CpStatus.BROKEN, engine="KO", updated_at="2099-01-01T00:00:00.000Z"),
        ),
    )
    worker.start()
    worker.join()

    status = _source_index(window, "CP-01", Column.STATUS)
    qtbot.waitUntil(lambda: status.data(STATUS_ROLE) == "BROKEN", timeout=3000)
    assert status.data(Qt.ItemDataRole.DisplayRole) == "Broken"
    assert status.data(Qt.ItemDataRole.BackgroundRole) == theme.status_tint(CpStatus.BROKEN)
    assert status.data(Qt.ItemDataRole.ForegroundRole) == theme.status_text_colour(CpStatus.BROKEN)
    decoration = _source_index(window, "CP-01", Column.ID).data(Qt.ItemDataRole.DecorationRole)
    assert decoration.cacheKey() == theme.status_icon(CpStatus.BROKEN).cacheKey()

    tile = window.map.tile("CP-01")
    assert tile.tile_data.status == "BROKEN"
    assert tile.look.fill == broken_fill and tile.look.legend == "Broken"
    qtbot.waitUntil(lambda: _tile_pixel(window, "CP-01") == broken_fill, timeout=3000)
    qtbot.waitUntil(lambda: window.state_counts.counts[CpStatus.BROKEN] == 2, timeout=3000)


def test_supplying_shows_live_figures_and_only_the_driver_id(qtbot, window) -> None:
    window.bridge.cp_changed(
        make_cp(
            "CP-02",
            CpStatus.SUPPLYING,
            driver_id="D-042",
            kw=11.0,
            kwh=2.25,
            eur=0.9,
            updated_at="2099-01-01T00:00:00.000Z",
        )
    )
    kw = _source_index(window, "CP-02", Column.KW)
    qtbot.waitUntil(lambda: kw.data() == "11.0", timeout=3000)
    assert _source_index(window, "CP-02", Column.EUR).data() == "0.90"
    assert _source_index(window, "CP-02", Column.DRIVER).data() == "D-042"
    look = window.map.tile("CP-02").look
    assert look.fill == OperatorStyle.COLOURS[CpStatus.SUPPLYING][0]
    assert any("11.0 kW" in line for line in look.details)
    assert any("D-042" in line for line in look.details)


def test_stopped_reads_out_of_order_everywhere(window) -> None:
    assert _source_index(window, "CP-04", Column.STATUS).data() == "Out of Order"
    assert window.map.tile("CP-04").look.legend == "Out of Order"
    assert window.map.tile("CP-04").look.fill == OperatorStyle.COLOURS[CpStatus.STOPPED][0]


def test_select_row_and_stop_calls_stop_cp(qtbot, window, controls) -> None:
    _click_row(qtbot, window, "CP-02")
    assert window.selected_ids() == ["CP-02"]
    assert window.map.tile("CP-02").isSelected()  # selection mirrored on the map
    _press(qtbot, window, window.stop_action)
    assert controls.calls == [("stop_cp", "CP-02")]


def test_resume_selection_calls_resume_cp(qtbot, window, controls) -> None:
    _click_row(qtbot, window, "CP-04")
    _press(qtbot, window, window.resume_action)
    assert controls.calls == [("resume_cp", "CP-04")]


def test_map_selection_selects_the_row(qtbot, window) -> None:
    window.map.select_tile("CP-05")
    qtbot.waitUntil(lambda: window.selected_ids() == ["CP-05"], timeout=2000)
    assert window.stop_action.isEnabled()


def test_clicking_a_tile_selects_the_row(qtbot, window) -> None:
    view = window.map
    centre = view.mapFromScene(view.tile("CP-06").sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: window.selected_ids() == ["CP-06"], timeout=2000)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (QMessageBox.StandardButton.Cancel, []),
        (QMessageBox.StandardButton.Yes, [("stop_all", None)]),
    ],
)
def test_stop_all_asks_for_confirmation(qtbot, window, controls, monkeypatch, answer, expected):
    asked = _answering(monkeypatch, answer)
    _press(qtbot, window, window.stop_all_action)
    assert len(asked) == 1 and "Stop all 6 charging points" in asked[0]
    assert controls.calls == expected


def test_resume_all_asks_for_confirmation(qtbot, window, controls, monkeypatch) -> None:
    _answering(monkeypatch, QMessageBox.StandardButton.Yes)
    _press(qtbot, window, window.resume_all_action)
    assert controls.calls == [("resume_all", None)]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (QMessageBox.StandardButton.Cancel, []),
        (QMessageBox.StandardButton.Yes, [("revoke_cp", "CP-01")]),
    ],
)
def test_revoke_key_asks_for_confirmation(qtbot, window, controls, monkeypatch, answer, expected):
    asked = _answering(monkeypatch, answer)
    assert not window.revoke_action.isEnabled()  # nothing selected
    _click_row(qtbot, window, "CP-01")
    assert window.revoke_action.isEnabled()
    _press(qtbot, window, window.revoke_action)
    assert len(asked) == 1 and "Revoke the credential and key of CP-01" in asked[0]
    assert controls.calls == expected


def test_failing_command_is_logged_not_raised(qtbot, window, controls) -> None:
    controls.fail = ConnectionError("Central is not answering")
    _click_row(qtbot, window, "CP-01")
    _press(qtbot, window, window.stop_action)
    assert "Stop CP-01 failed: Central is not answering" in window.log_panel.plain_text()
    assert "failed" in window.statusBar().currentMessage()


def test_status_bar_shows_kafka_down(qtbot, window) -> None:
    window.bridge.links_changed(LinkStatus(kafka_up=True, database_ok=True, monitors_connected=5))
    qtbot.waitUntil(lambda: window.links.kafka.text() == "Kafka UP", timeout=2000)
    window.bridge.links_changed(LinkStatus(kafka_up=False, database_ok=True, monitors_connected=5))
    qtbot.waitUntil(lambda: window.links.kafka.text() == "Kafka DOWN", timeout=2000)
    assert window.links.database.text() == "Database OK"
    assert "Monitors: 5" in window.links.monitors.text()


def test_filter_by_status_and_text(qtbot, window) -> None:
    panel = window.cp_panel

    def shown() -> list[str]:
        proxy = panel.proxy
        return sorted(proxy.index(r, Column.ID).data() for r in range(proxy.rowCount()))

    panel.set_status_filter(CpStatus.ACTIVE)
    assert shown() == ["CP-01", "CP-02"]
    assert panel.count_label.text() == "2 of 6 CPs"
    panel.search.setText("riverside")
    assert shown() == ["CP-02"]
    panel.search.clear()
    # A CP leaving the filtered state leaves the filtered table after the flush.
    window.bridge.cp_changed(
        make_cp("CP-01", CpStatus.STOPPED, updated_at="2099-01-01T00:00:00.000Z")
    )
    qtbot.waitUntil(lambda: shown() == ["CP-02"], timeout=3000)
    panel.set_status_filter(None)
    assert len(shown()) == 6


def test_requests_and_log_panels_follow_the_bridge(qtbot, window) -> None:
    window.bridge.request_changed(RequestView("R-1", "D-003", "CP-01", RequestPhase.RECEIVED))
    window.bridge.request_changed(
        RequestView("R-1", "D-003", "CP-01", RequestPhase.AUTHORIZED, "plug in")
    )
    window.bridge.logged(LogEntry("engine KO", LogLevel.ERROR, "CP-05"))
    qtbot.waitUntil(lambda: window.requests.rowCount() == 1, timeout=2000)
    assert window.requests.index(0, 3).data() == "Authorized"
    qtbot.waitUntil(lambda: "engine KO" in window.log_panel.plain_text(), timeout=2000)


def test_close_detaches_the_listener(window, controls) -> None:
    assert window.bridge in controls.listeners
    window.close()
    assert window.bridge not in controls.listeners


def test_cp_without_position_is_in_table_not_on_map(qtbot, window) -> None:
    window.bridge.cp_changed(replace(make_cp("CP-99"), x=None, y=None))
    qtbot.waitUntil(lambda: window.model.row_of("CP-99") >= 0, timeout=2000)
    assert window.map.tile("CP-99") is None


def test_meter_only_change_reaches_the_tile(qtbot, window) -> None:
    reading = make_cp(
        "CP-03",
        CpStatus.SUPPLYING,
        driver_id="D-007",
        kw=31.5,
        kwh=4.0,
        eur=1.6,
        updated_at="2099-01-01T00:00:00.000Z",
    )
    window.bridge.cp_changed(reading)
    qtbot.waitUntil(lambda: window.map.tile("CP-03").tile_data.kw == 31.5, timeout=3000)
    assert any("31.5 kW" in line for line in window.map.tile("CP-03").look.details)


def test_stopped_while_disconnected_says_so(qtbot, window) -> None:
    window.bridge.cp_changed(
        make_cp(
            "CP-06",
            CpStatus.DISCONNECTED,
            admin_state="STOPPED",
            updated_at="2099-01-01T00:00:00.000Z",
        )
    )
    status = _source_index(window, "CP-06", Column.STATUS)
    qtbot.waitUntil(lambda: status.data() == "Disconnected · stopped", timeout=3000)
    window.cp_panel.select_ids(["CP-06"])
    assert window.resume_action.isEnabled() and not window.stop_action.isEnabled()


def test_run_control_center_shows_the_window_and_returns(qtbot, qapp, controls, monkeypatch):
    """main's entry point: builds and shows the window, runs a loop, detaches on close.

    The application-wide loop is replaced by a local one so the test session's QApplication
    is never told to quit (later tests still need its timers).
    """
    from argparse import Namespace

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from central_app.gui import ControlCenterWindow, run_control_center

    seen: list[str] = []

    def local_exec() -> int:
        loop = QEventLoop()

        def close_it() -> None:
            for widget in QApplication.topLevelWidgets():
                if isinstance(widget, ControlCenterWindow) and widget.isVisible():
                    seen.append(widget.windowTitle())
                    widget.close()
            loop.quit()

        QTimer.singleShot(200, close_it)
        loop.exec()
        return 0

    monkeypatch.setattr(qapp, "exec", local_exec)
    code = run_control_center(controls, Namespace(port=7001, kafka="127.0.0.1:9092"))
    assert code == 0
    assert seen and "TCP :7001" in seen[0]
    assert controls.listeners == []  # detached on close


def test_enroll_a_cp_shows_a_one_time_token_and_the_monitors_command(
    qtbot, window, controls
) -> None:  # type: ignore[no-untyped-def]
    """Issue 19, defect 4: the control center offers the enrollment token."""
    from central_app.gui.enroll_dialog import EnrollDialog

    dialog = EnrollDialog(controls.enroll_cp, "CP-06", window)
    qtbot.addWidget(dialog)
    assert dialog.validity.currentText() == "24 hours"
    assert dialog.issue()  # asked on a helper thread: the database is not waited for here
    qtbot.waitUntil(lambda: dialog.token.text() != "", timeout=5000)
    assert dialog.token.text() == "token-for-CP-06-86400"
    assert "--cp-id CP-06 --enroll-token token-for-CP-06-86400" in dialog.command.text()
    assert "2026-12-08 12:00 UTC" in dialog.command.text()
    assert not dialog.issue_button.isEnabled() and dialog.copy_button.isEnabled()
    assert controls.calls == [("enroll_cp", "CP-06")]
    # a refusal reads as the registry's words, and nothing is shown as a token
    controls.fail = RuntimeError("charging point CP-01 is registered; revoke it first")
    refused = EnrollDialog(controls.enroll_cp, "CP-01", window)
    qtbot.addWidget(refused)
    assert refused.issue()
    qtbot.waitUntil(lambda: refused.error.text() != "", timeout=5000)
    assert refused.token.text() == "" and "revoke it first" in refused.error.text()
    assert refused.issue_button.isEnabled()  # the operator may try again
    assert window.enroll_action in window.command_actions  # a standby's window offers none
