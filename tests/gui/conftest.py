"""Fixtures for the control center's view tests: a small in-test fake of Central's controls.

These are unit tests of the view: the fake records the operator's commands and lets a test
push changes through the same ``CentralListener`` calls the core makes. The core itself is
tested elsewhere.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from central_app.views import CentralListener, CpStatus, CpView  # noqa: E402


def event_loop_turns(qtbot, times: int = 10) -> None:  # type: ignore[no-untyped-def]
    """A 10 ms timer fires ``times`` times on the GUI thread: the event loop is not blocked
    (a count of ticks in a fixed time would depend on how loaded the machine is)."""
    from PySide6.QtCore import QTimer

    ticks = [0]
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start(10)
    qtbot.waitUntil(lambda: ticks[0] >= times, timeout=10000)
    timer.stop()


def make_cp(cp_id: str, status: CpStatus = CpStatus.ACTIVE, **fields) -> CpView:
    n = int(cp_id.split("-")[-1])
    base = {
        "location": f"District {n % 3}",
        "x": 60.0 + 70 * (n % 12),
        "y": 80.0 + 45 * (n % 11),
        "price": 0.30 + n / 100,
        "engine": None if status is CpStatus.DISCONNECTED else "OK",
        "admin_state": "STOPPED" if status is CpStatus.STOPPED else "ACTIVE",
    }
    base.update(fields)
    return CpView(cp_id=cp_id, status=status, **base)


FIVE_STATES = [
    make_cp("CP-01", CpStatus.ACTIVE),
    make_cp("CP-02", CpStatus.ACTIVE, location="Riverside"),
    make_cp("CP-03", CpStatus.SUPPLYING, driver_id="D-007", kw=22.0, kwh=3.5, eur=1.4),
    make_cp("CP-04", CpStatus.STOPPED),
    make_cp("CP-05", CpStatus.BROKEN, engine="KO"),
    make_cp("CP-06", CpStatus.DISCONNECTED),
]


class FakeControls:
    """Records calls; ``fail`` makes every command raise like a broken core would."""

    def __init__(self, cps: list[CpView]) -> None:
        self.cps = list(cps)
        self.listeners: list[CentralListener] = []
        self.calls: list[tuple[str, str | None]] = []
        self.fail: Exception | None = None

    def snapshot(self) -> list[CpView]:
        return list(self.cps)

    def add_listener(self, listener: CentralListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        self.listeners.remove(listener)

    def _record(self, name: str, cp_id: str | None = None) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((name, cp_id))

    def stop_cp(self, cp_id: str) -> None:
        self._record("stop_cp", cp_id)

    def resume_cp(self, cp_id: str) -> None:
        self._record("resume_cp", cp_id)

    def stop_all(self) -> None:
        self._record("stop_all")

    def resume_all(self) -> None:
        self._record("resume_all")

    def revoke_cp(self, cp_id: str) -> None:
        self._record("revoke_cp", cp_id)

    def enroll_cp(self, cp_id: str, ttl_s: float) -> tuple[str, str]:
        self._record("enroll_cp", cp_id)
        return f"token-for-{cp_id}-{ttl_s:.0f}", "2026-12-08T12:00:00.000Z"


@pytest.fixture
def controls() -> FakeControls:
    return FakeControls(FIVE_STATES)


@pytest.fixture
def window(qtbot, controls: FakeControls) -> Iterator:
    from central_app.gui import ControlCenterWindow

    win = ControlCenterWindow(controls, flush_interval_ms=50)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
