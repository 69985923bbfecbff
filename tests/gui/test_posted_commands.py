"""Stop/Resume from the control center are posted and return at once (docs/central.md): the
GUI thread goes on while Central's owner is busy, and each outcome reaches the messages log
when it arrives — applied, refused, or not answered in time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from central_app.gui.commands import PostedCommands
from tests.central.conftest import central, recorder  # noqa: F401  (fixtures)
from tests.gui.conftest import FIVE_STATES, FakeControls, event_loop_turns

SELECTED = ["CP-01", "CP-02", "CP-03"]


class SlowControls(FakeControls):
    """Like Central's core: each Stop is posted to an owner that is busy until ``release``."""

    def __init__(self) -> None:
        super().__init__(FIVE_STATES)
        self.release = threading.Event()
        self.refuse: set[str] = set()

    def stop_cp(self, cp_id: str) -> Future[None]:
        self._record("stop_cp", cp_id)
        future: Future[None] = Future()

        def owner() -> None:
            self.release.wait(10)
            if cp_id in self.refuse:
                future.set_exception(RuntimeError(f"no charging point {cp_id}"))
            else:
                future.set_result(None)

        threading.Thread(target=owner, daemon=True).start()
        return future


def test_stop_on_several_cps_returns_at_once_and_the_outcomes_arrive(qtbot) -> None:
    from central_app.gui import ControlCenterWindow

    controls = SlowControls()
    controls.refuse = {"CP-02"}
    window = ControlCenterWindow(controls, flush_interval_ms=50)
    qtbot.addWidget(window)
    window.cp_panel.select_ids(SELECTED)
    assert window.selected_ids() == SELECTED

    began = time.monotonic()
    window.stop_selected()
    assert time.monotonic() - began < 2  # posted; three busy owners would be 3 × 10 s
    assert controls.calls == [("stop_cp", i) for i in SELECTED]
    assert window.commands.pending == 3
    assert "Stop sent to CP-01, CP-02, CP-03" in window.statusBar().currentMessage()
    event_loop_turns(qtbot)  # the owners are still busy meanwhile
    assert window.commands.pending == 3
    assert "applied" not in window.log_panel.plain_text()

    controls.release.set()
    qtbot.waitUntil(lambda: window.commands.pending == 0, timeout=5000)
    log = window.log_panel.plain_text()
    assert "Stop applied to CP-01, CP-03" in log
    assert "Stop CP-02 failed: no charging point CP-02" in log


def test_an_owner_that_never_answers_is_said_after_the_deadline(qtbot) -> None:
    outcomes = []
    commands = PostedCommands(deadline_s=0.2)
    commands.finished.connect(outcomes.append)
    never: Future[None] = Future()
    assert commands.post("Resume", [("CP-04", lambda: never)]) == ["CP-04"]
    qtbot.waitUntil(lambda: bool(outcomes), timeout=3000)
    (outcome,) = outcomes
    assert outcome.applied == []
    assert outcome.failed == [("CP-04", "Central's core did not answer within 0 s")]
    never.set_result(None)  # a late answer is ignored, not reported twice
    qtbot.wait(50)
    assert len(outcomes) == 1


def test_stop_through_the_core_does_not_wait_for_a_busy_owner(qtbot, central) -> None:  # noqa: F811
    """A real Central (no Kafka) whose owner thread is kept busy until the gate opens."""
    from central_app.gui import ControlCenterWindow

    window = ControlCenterWindow(central, flush_interval_ms=50)
    qtbot.addWidget(window)
    window.cp_panel.select_ids(SELECTED)
    gate = threading.Event()
    central.owner.submit(gate.wait, 10)  # the owner is stuck in a long step
    began = time.monotonic()
    window.stop_selected()
    assert time.monotonic() - began < 2  # it used to wait up to 10 s per CP
    event_loop_turns(qtbot)
    assert window.commands.pending == 3
    gate.set()
    qtbot.waitUntil(
        lambda: "Stop applied to CP-01, CP-02, CP-03" in window.log_panel.plain_text(),
        timeout=5000,
    )
    states = {v.cp_id: v.admin_state for v in central.snapshot()}
    assert [states[i] for i in SELECTED] == ["STOPPED"] * 3
