"""The Qt client with the real core and the real broker (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from driver_app.gui.bridge import QtBridge
from driver_app.gui.window import DriverWindow
from driver_app.runtime import DriverConfig, DriverRuntime

pytestmark = pytest.mark.kafka


@pytest.fixture
def gui(qtbot, kafka_bootstrap, topics, tmp_path, central):
    central.publish_seed()
    central.set_alive(True)
    bridge = QtBridge()
    runtime = DriverRuntime(DriverConfig(kafka_bootstrap, "D-008", topics, tmp_path / "d8"), bridge)
    window = DriverWindow("D-008", bridge, runtime)
    window.confirm_requests = False
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    runtime.start()
    qtbot.waitUntil(lambda: window.map.tile("CP-01") is not None, timeout=15000)
    yield window, runtime
    runtime.stop()


def test_cp_state_recolours_the_map_tile(gui, central, qtbot):
    window, _ = gui
    tile = window.map.tile("CP-01")
    assert tile.look.legend == "Available"
    green = tile.look.fill.name()
    central.cp_state("CP-01", "BROKEN", location="Harbour", x=120.0, y=520.0, price=0.35)
    qtbot.waitUntil(lambda: window.map.tile("CP-01").look.legend == "Unavailable", timeout=10000)
    assert window.map.tile("CP-01").look.fill.name() != green
    row = window.cp_model.get("CP-01")
    assert row.availability.label == "Broken"
    qtbot.waitUntil(lambda: "Central online" in window.central_indicator.text(), timeout=10000)


def _click_tile(qtbot, window, cp_id: str) -> None:
    view = window.map
    tile = view.tile(cp_id)
    pos = view.mapFromScene(tile.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_clicking_an_available_cp_sends_a_request(gui, central, qtbot, monkeypatch):
    window, _ = gui
    asked = []
    window.confirm_requests = True
    monkeypatch.setattr(window, "_confirm", lambda info: asked.append(info.cp_id) or True)
    _click_tile(qtbot, window, "CP-02")
    qtbot.waitUntil(lambda: bool(central.requests_for("D-008")), timeout=10000)
    assert asked == ["CP-02"]
    (request,) = central.requests_for("D-008")
    assert request.cp_id == "CP-02" and request.origin == "app"


def test_clicking_an_unavailable_cp_sends_nothing(gui, central, qtbot):
    window, _ = gui
    central.cp_state("CP-03", "SUPPLYING", location="University", x=520.0, y=180.0, price=0.32)
    qtbot.waitUntil(lambda: window.map.tile("CP-03").look.legend == "Busy", timeout=10000)
    _click_tile(qtbot, window, "CP-03")
    assert "busy" in window.statusBar().currentMessage().lower() or "in use" in (
        window.statusBar().currentMessage().lower()
    )
    assert not window.ask_charge("CP-03")


def test_a_ticket_shows_in_the_window(gui, central, qtbot):
    window, _ = gui
    central.on_request = central.full_supply
    _click_tile(qtbot, window, "CP-04")
    qtbot.waitUntil(lambda: window.charge.ticket.isVisible(), timeout=15000)
    text = window.charge.ticket.text()
    assert "CP-04" in text and "0.200 kWh" in text and "0.07 €" in text
    assert window.charge.headline.text().startswith("Charge finished at CP-04")
    assert window.ticket_model.rowCount() == 1
    steps = [window.charge.steps.item(i).text() for i in range(window.charge.steps.count())]
    assert any("plug in at CP-04" in s for s in steps)


def test_cp_model_passes_the_model_tester(qtmodeltester):
    from driver_app.gui.models import CpTableModel, TicketTableModel
    from driver_app.network import CpInfo
    from driver_app.session import TicketInfo

    model = CpTableModel()
    model.apply(
        [
            CpInfo(f"CP-0{i}", "Here", 1.0, 2.0, 0.3, "ACTIVE", "2026-11-21T22:00:00.000Z")
            for i in range(3)
        ]
    )
    model.apply([CpInfo("CP-01", "Here", 1.0, 2.0, 0.3, "BROKEN", "2026-11-21T22:00:01.000Z")])
    qtmodeltester.check(model)
    tickets = TicketTableModel(
        [
            TicketInfo(
                "s",
                "CP-01",
                1.0,
                0.3,
                "2026-11-21T22:00:00.000Z",
                "2026-11-21T22:05:00.000Z",
                "unplugged",
            )
        ]
    )
    qtmodeltester.check(tickets)


def test_services_file_progress_and_stop_after_current(
    qtbot, kafka_bootstrap, topics, tmp_path, central
):
    central.publish_seed()
    central.set_alive(True)
    central.on_request = central.full_supply
    bridge = QtBridge()
    config = DriverConfig(kafka_bootstrap, "D-009", topics, tmp_path / "d9", pause_s=1.0)
    runtime = DriverRuntime(config, bridge)
    window = DriverWindow("D-009", bridge, runtime)
    qtbot.addWidget(window)
    runtime.start()
    try:
        services = tmp_path / "three.txt"
        services.write_text("CP-01\nCP-02\nCP-03\n")
        window.run_file(services)
        panel = window.run_panel
        qtbot.waitUntil(lambda: "request 1 of 3" in panel.progress.format(), timeout=15000)
        assert panel.stop_button.isEnabled() and not panel.open_button.isEnabled()
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.view is not None and panel.view.finished, timeout=15000)
        assert "stopped after 1 of 3 entries" in panel.status.text()
        assert [r.cp_id for r in central.requests_for("D-009")] == ["CP-01"]
        assert panel.open_button.isEnabled() and not panel.stop_button.isEnabled()
    finally:
        runtime.stop()
