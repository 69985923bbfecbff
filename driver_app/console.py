"""The ``--no-gui`` console: one line per event, on stdout (with the window too, through
``FanOut``: the same lines are the driver's log).

``[D-001] CP-03 authorized — plug in at CP-03 (Harbour)``. Progress lines come once per
``supply_progress`` notice (every second while supplying). Lines are written under a lock
because the runtime thread and the main thread (stdin, signals) both print.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from typing import TextIO

from driver_app.central_watch import CentralStatus
from driver_app.core import DriverListener
from driver_app.network import CpInfo
from driver_app.services import RunState, RunView
from driver_app.session import SessionView, Step, TicketInfo, format_elapsed
from wire.timefmt import parse_ts


class ConsoleListener(DriverListener):
    def __init__(self, driver_id: str, out: TextIO | None = None) -> None:
        self._tag = f"[{driver_id}]"
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._network_ready = False
        self._central_text = ""
        self._request_line = ""
        self._stop_announced = False
        self.run_view: RunView | None = None
        self.session: SessionView | None = None
        self.run_finished = threading.Event()

    def line(self, text: str) -> None:
        with self._lock:
            self._out.write(f"{self._tag} {text}\n")
            self._out.flush()

    def network_changed(self, cps: list[CpInfo]) -> None:
        """The replay of the network state comes in several batches: counted silently until
        ``network_ready``; after it, a CP new to this driver gets its own line."""
        added = sorted(cp.cp_id for cp in cps if cp.cp_id not in self._known)
        self._known.update(added)
        if self._network_ready and added:
            self.line(
                f"network: {', '.join(added)} added — {len(self._known)} charging points known"
            )

    def network_ready(self, count: int) -> None:
        self._network_ready = True
        self.line(f"network: {count} charging points known")

    def central_changed(self, status: CentralStatus) -> None:
        # the status also changes when only the broker's state or Central's instance did:
        # one line per change of what the driver reads
        if status.text != self._central_text:
            self._central_text = status.text
            self.line(status.text)

    def session_step(self, view: SessionView, step: Step) -> None:
        self.session = view
        prefix = "(resumed) " if view.resumed else ""
        self.line(f"{view.cp_id} {prefix}{step.text}")

    def session_progress(self, view: SessionView) -> None:
        self.session = view
        self.line(
            f"{view.cp_id} supplying {view.kw:.2f} kW · {view.kwh:.3f} kWh · "
            f"{view.eur:.2f} € · {format_elapsed(view.elapsed_s(_at(view.progress_at)))}"
        )

    def ticket_stored(self, ticket: TicketInfo, current: bool) -> None:
        if not current:
            self.line(f"{ticket.cp_id} {ticket.summary()} (earlier supply)")

    def ticket_amended(self, ticket: TicketInfo, was: TicketInfo | None) -> None:
        self.line(ticket.amended_summary(was))

    def run_changed(self, view: RunView) -> None:
        self.run_view = view
        if view.state is RunState.REQUESTING and view.current is not None:
            text = f"request {view.index} of {view.total}: {view.current.cp_id}"
            if text != self._request_line:  # once per request, however often the run is shown
                self._request_line = text
                self.line(text)
        elif view.finished:
            self.line(view.summary())
            self.run_finished.set()
        if view.stop_requested and not view.finished and not self._stop_announced:
            self._stop_announced = True
            self.line("will stop after the current request")

    def report(self, text: str) -> None:
        self.line(text)


class FanOut(DriverListener):
    """Hands each of the core's calls to every listener in turn: the window's bridge and the
    console lines (stdout: the driver's log file), so the story is logged with a window too."""

    def __init__(self, *listeners: DriverListener) -> None:
        self.listeners = listeners


def _fan(name: str):  # type: ignore[no-untyped-def]
    def call(self: FanOut, *args: object) -> None:
        for listener in self.listeners:
            getattr(listener, name)(*args)

    call.__name__ = name
    return call


for _name in [n for n in vars(DriverListener) if not n.startswith("_")]:
    setattr(FanOut, _name, _fan(_name))


def _at(ts: str | None) -> datetime | None:
    """The time a progress notice was made (so replayed notices show their own elapsed)."""
    if ts is None:
        return None
    try:
        return parse_ts(ts)
    except ValueError:
        return None
