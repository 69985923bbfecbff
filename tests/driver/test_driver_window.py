"""The driver's window without a broker (issue 23): the spending chart's axis, the ticket
card's colour, the timeline box with the ticket under it, and a manual charge asked while a
services file runs (a CP that turned busy during the dialog, the status bar after a denial,
Stop after current between two requests)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from PySide6.QtCharts import QValueAxis
from PySide6.QtCore import Qt

from driver_app.console import ConsoleListener, FanOut
from driver_app.core import DriverCore, DriverListener
from driver_app.gui.bridge import QtBridge
from driver_app.gui.panels import TICKET_TONES
from driver_app.gui.spending import SpendingPanel
from driver_app.gui.window import DriverWindow
from driver_app.network import CpInfo
from driver_app.services import RunState, ServiceEntry, ServiceRun
from driver_app.session import ChargeSession, TicketInfo
from wire.kafka.messages import (
    AuthorizedNotice,
    CpState,
    Denied,
    RequestReceived,
    SupplyProgressNotice,
    SupplyStartedNotice,
    Ticket,
)
from wire.timefmt import format_ts, now_ts, utc_now

REPO = Path(__file__).resolve().parents[2]
SEED = json.loads((REPO / "resources" / "seed.json").read_text())["charging_points"]


def cp_state(cp_id: str, status: str = "ACTIVE") -> CpInfo:
    cp = next(c for c in SEED if c["id"] == cp_id)
    return CpInfo.from_event(
        CpState(
            cp_id=cp_id, location=cp["location"], x=cp["x"], y=cp["y"], price=0.3, status=status
        )
    )


class FakeRuntime:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.stops = 0

    def request(self, cp_id: str) -> None:
        self.requests.append(cp_id)

    def stop_after_current(self) -> None:
        self.stops += 1


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    runtime = FakeRuntime()
    win = DriverWindow("D-001", QtBridge(), runtime)
    win.on_network([cp_state(c["id"]) for c in SEED])
    win.flush()
    qtbot.addWidget(win)
    win.resize(1400, 860)
    win.show()
    qtbot.waitExposed(win)
    return win, runtime


def ticket(session_id: str, eur: float, reason: str = "unplugged") -> TicketInfo:
    ended = utc_now()
    return TicketInfo(session_id, "CP-03", 1.0, eur, format_ts(ended), format_ts(ended), reason)


def test_spending_axis_reads_cents(qtbot) -> None:
    panel = SpendingPanel()
    qtbot.addWidget(panel)
    panel.set_tickets([ticket("s1", 0.18), ticket("s2", 0.02)])
    (axis,) = [a for a in panel.chart_view.chart().axes() if isinstance(a, QValueAxis)]
    n = axis.tickCount()
    labels = [axis.labelFormat() % (axis.max() * i / (n - 1)) for i in range(n)]
    assert labels == ["0.00", "0.05", "0.10", "0.15", "0.20"]  # was 0, 0, 0, 0, 0


@pytest.mark.parametrize(
    ("reason", "tone"),
    [("unplugged", "finished"), ("fault", "fault"), ("stopped", "interrupted")],
)
def test_the_ticket_card_is_green_only_for_a_charge_that_ended_as_planned(
    qtbot, reason, tone
) -> None:
    from driver_app.gui.panels import ChargePanel

    panel = ChargePanel()
    qtbot.addWidget(panel)
    panel.show_ticket(ticket("s1", 1.0, reason))
    assert panel.ticket.property("tone") == tone
    assert TICKET_TONES[tone] in panel.ticket.styleSheet()
    green = "#ebfbee" in panel.ticket.styleSheet()
    assert green == (reason == "unplugged")


def test_the_timeline_keeps_its_lines_whole_when_the_ticket_appears(qtbot, window) -> None:
    win, _ = window
    session = ChargeSession("r1", "CP-03", "D-001", time.monotonic(), location="Harbour")
    base = {"cp_id": "CP-03", "driver_id": "D-001"}
    win.on_step(session.view(), session.start())
    notices = [
        RequestReceived(request_id="r1", **base),
        AuthorizedNotice(request_id="r1", session_id="s9", expires_at=now_ts(), **base),
        SupplyStartedNotice(session_id="s9", started_at=now_ts(), request_id="r1", **base),
        Ticket(
            session_id="s9",
            kwh=2.874,
            eur=1.09,
            started_at=now_ts(),
            ended_at=now_ts(),
            reason="unplugged",
            request_id="r1",
            **base,
        ),  # fmt: skip
    ]
    for notice in notices:
        step = session.apply(notice, time.monotonic())
        win.on_step(session.view(), step)
    steps = win.charge.steps
    qtbot.waitUntil(lambda: win.charge.ticket.isVisible())
    qtbot.wait(50)  # the layout settles after the card is shown
    viewport = steps.viewport().rect()
    last = steps.visualItemRect(steps.item(steps.count() - 1))
    assert steps.count() == 5
    assert viewport.contains(last), (viewport, last)  # the newest line whole, not cut in half
    assert all(viewport.contains(steps.visualItemRect(steps.item(i))) for i in range(5))


def test_a_cp_that_turned_busy_during_the_dialog_is_not_asked_for(qtbot, window) -> None:
    win, runtime = window

    def confirm(info: CpInfo) -> bool:  # someone else took CP-03 meanwhile
        win.on_network([cp_state("CP-03", "SUPPLYING")])
        return True

    win._confirm = confirm  # type: ignore[method-assign]
    assert not win.ask_charge("CP-03")
    assert runtime.requests == []
    assert "CP-03 is in use — choose a green charging point" in win.statusBar().currentMessage()


def test_the_status_bar_stops_saying_asking_once_central_answers(qtbot, window) -> None:
    win, runtime = window
    win.confirm_requests = False
    assert win.ask_charge("CP-02") and runtime.requests == ["CP-02"]
    assert win.statusBar().currentMessage() == "Asking Central for a charge at CP-02…"
    session = ChargeSession("r1", "CP-02", "D-001", time.monotonic())
    win.on_step(session.view(), session.start())
    assert win.statusBar().currentMessage().startswith("Asking Central")
    denied = Denied(request_id="r1", cp_id="CP-02", driver_id="D-001", reason="cp_busy")
    step = session.apply(denied, time.monotonic())
    win.on_step(session.view(), step)
    message = win.statusBar().currentMessage()
    assert "Asking" not in message and message.startswith("CP-02: denied — charging point is busy")


def test_no_dialog_while_a_services_file_runs(qtbot, window) -> None:
    win, runtime = window
    run = ServiceRun("driver-1.txt", [ServiceEntry(1, "CP-01"), ServiceEntry(2, "CP-02")], 0.0)
    win.on_run(run.view(0.0))
    asked: list[str] = []
    win._confirm = lambda info: asked.append(info.cp_id) or True  # type: ignore[method-assign]
    assert not win.ask_charge("CP-05")
    assert asked == [] and runtime.requests == []
    assert "driver-1.txt is running — press Stop after current" in win.statusBar().currentMessage()


def test_stop_after_current_between_two_requests_stops_at_once() -> None:
    """During the pause nothing runs: the first click stops the run (it used to wait for
    the pause to end, and a manual charge meanwhile was refused)."""
    run = ServiceRun("f", [ServiceEntry(1, "CP-01"), ServiceEntry(2, "CP-02")], started=0.0)
    run.next_entry(0.0, True, None, busy=False)
    run.started_request("r1")
    session = ChargeSession("r1", "CP-01", "D-001", created=0.0)
    session.apply(Denied(request_id="r1", reason="cp_busy", cp_id="CP-01", driver_id="D-001"), 1)
    run.request_ended(session.view(), 1.0)
    assert run.state is RunState.PAUSING
    run.stop_after_current()
    assert run.state is RunState.STOPPED and run.view(1.5).finished


def test_the_core_says_the_run_stopped_at_the_first_click() -> None:
    seen = []

    class Listener(DriverListener):
        def run_changed(self, view) -> None:  # type: ignore[no-untyped-def]
            seen.append(view)

    clock = [0.0]
    core = DriverCore("D-001", lambda request: None, Listener(), clock=lambda: clock[0])
    core.network_loaded = True
    core.run_file("f.txt", [ServiceEntry(1, "CP-01"), ServiceEntry(2, "CP-02")])
    core.tick()  # the first request goes out
    assert core.session is not None and core.session.cp_id == "CP-01"
    clock[0] = 1.0
    core.on_notice(
        Denied(
            request_id=core.session.request_id, cp_id="CP-01", driver_id="D-001", reason="cp_busy"
        )
    )
    assert seen[-1].state is RunState.PAUSING  # 4 s before the next request
    core.stop_after_current()
    assert seen[-1].finished and seen[-1].state is RunState.STOPPED
    assert not core.running_file and core.request("CP-02") is None  # a manual charge now


def test_the_run_panel_messages_follow_their_end(qtbot, window) -> None:
    win, _ = window
    for i in range(30):
        win.run_panel.add_message(f"CP-0{i % 9 + 1}: finished, ticket {i}")
    bar = win.run_panel.messages.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert Qt  # (imported for the fixture's types)


def test_delayed_readings_each_show_their_own_elapsed_time() -> None:
    """After a broker outage the readings arrive together; each line shows the reading's own
    time since the start (they all read 00:19 while the ticket said 00:10)."""
    out = io.StringIO()
    listener = ConsoleListener("D-001", out)
    session = ChargeSession("r1", "CP-03", "D-001", 0.0)
    session.start()
    base = {"cp_id": "CP-03", "driver_id": "D-001"}
    for notice in (
        RequestReceived(request_id="r1", **base),
        AuthorizedNotice(request_id="r1", session_id="s9", expires_at=now_ts(), **base),
        SupplyStartedNotice(
            session_id="s9", started_at="2026-11-20T10:00:00.000Z", request_id="r1", **base
        ),
    ):
        session.apply(notice, 0.0)
    for i in (1, 2, 3):  # delivered at the same moment, read a second apart
        reading = SupplyProgressNotice(
            session_id="s9", kw=7.0, kwh=i / 100, eur=0.01 * i,
            ts=f"2026-11-20T10:00:0{i}.000Z", **base,
        )  # fmt: skip
        session.apply(reading, 50.0)
        listener.session_progress(session.view())
    assert [line[-5:] for line in out.getvalue().splitlines()] == ["00:01", "00:02", "00:03"]


def test_with_the_window_the_story_is_logged_too() -> None:
    """``run_gui`` hands the core's calls to the window's bridge and the console lines both."""
    out = io.StringIO()
    calls: list[str] = []

    class Window(DriverListener):
        def report(self, text: str) -> None:
            calls.append(text)

    fan = FanOut(Window(), ConsoleListener("D-001", out))
    fan.report("line 4: unknown CP id 'CP-99' — skipped")
    assert calls == ["line 4: unknown CP id 'CP-99' — skipped"]
    assert out.getvalue() == "[D-001] line 4: unknown CP id 'CP-99' — skipped\n"
