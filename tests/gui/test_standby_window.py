"""A standby's control center: a read-only live view, then the live window once active.

The rows come from ``cp_state`` events handed to ``StandbyView.on_event``, the call the
Kafka feed (``central_app.standby_feed``) makes for each event it reads.
"""

from __future__ import annotations

import threading

import pytest

from central_app.gui.pair import PairWindows
from central_app.gui.window import ControlCenterWindow
from central_app.standby_view import ReadOnly, StandbyView
from central_app.views import CpStatus
from tests.gui.conftest import FIVE_STATES, FakeControls
from wire.kafka.messages import CentralAlive, CpState


def _state(cp_id: str, status: CpStatus, kw: float = 0.0) -> CpState:
    return CpState(
        cp_id=cp_id, location="Old Town", x=100.0, y=80.0, price=0.4, status=status, kw=kw
    )


def _alive(central_id: str, role: str) -> CentralAlive:
    return CentralAlive(central_id=central_id, started_at="2026-01-01T00:00:00Z", role=role)


@pytest.fixture
def standby(qtbot):
    view = StandbyView("central-b")
    window = ControlCenterWindow(view, flush_interval_ms=50)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return view, window


def test_rows_follow_cp_state_and_every_command_is_off(qtbot, standby) -> None:
    view, window = standby
    view.on_event(_state("CP-01", CpStatus.ACTIVE))
    view.on_event(_state("CP-02", CpStatus.SUPPLYING, kw=22.0))
    view.on_event(_alive("central-b", "standby"))  # its own: not the active one
    view.on_event(_alive("central-a", "active"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    qtbot.waitUntil(lambda: "central-a" in window.banner.text(), timeout=3000)
    assert window.banner.text() == "Standby of central-a — read-only"
    assert window.banner_action.isVisible()
    assert "central-b STANDBY" in window.links.monitors.text()
    view.on_event(_state("CP-01", CpStatus.STOPPED))
    qtbot.waitUntil(lambda: window.model.cp("CP-01").status is CpStatus.STOPPED, timeout=3000)
    window.cp_panel.select_ids(["CP-01"])  # a stopped CP: Resume would be on in a live window
    assert not any(action.isEnabled() for action in window.command_actions)
    with pytest.raises(ReadOnly, match="read-only"):
        view.resume_cp("CP-01")


def test_the_window_becomes_the_live_one_when_start_returns(qtbot) -> None:
    runtime = FakeControls(FIVE_STATES)
    release, abandoned = threading.Event(), threading.Event()
    view = StandbyView("central-b")
    view.on_event(_alive("central-a", "active"))

    def start() -> None:
        release.wait(10)

    pair = PairWindows(
        runtime,
        start,
        abandoned.set,
        lambda controls: ControlCenterWindow(controls, flush_interval_ms=50),
        None,
        view,
    )
    pair.begin()
    standby_window = pair.window
    qtbot.waitExposed(standby_window)
    assert standby_window.read_only == "Standby of central-a — read-only"
    release.set()
    qtbot.waitUntil(lambda: pair.active, timeout=5000)
    live = pair.window
    qtbot.addWidget(live)
    assert live is not standby_window and live.controls is runtime
    assert live.read_only is None and not live.banner_action.isVisible()
    live.cp_panel.select_ids(["CP-04"])  # stopped
    assert live.resume_action.isEnabled()
    assert not standby_window.isVisible()
    pair.finish()
    assert not abandoned.is_set()
    live.close()


def test_closing_the_standby_window_abandons_the_wait(qtbot) -> None:
    abandoned = threading.Event()

    def start() -> None:
        if not abandoned.wait(10):
            raise AssertionError("never abandoned")
        raise RuntimeError("stopped while standby")

    pair = PairWindows(
        FakeControls([]),
        start,
        abandoned.set,
        lambda controls: ControlCenterWindow(controls, flush_interval_ms=50),
        None,
        StandbyView("central-b"),
    )
    pair.begin()
    qtbot.addWidget(pair.window)
    pair.window.close()
    pair.finish()
    assert abandoned.is_set() and not pair.active
