"""Hands the core's listener calls (runtime thread) to the GUI thread as Qt signals.

The bridge is created in the GUI thread, so its signals, emitted from the Kafka thread, are
delivered through queued connections: slots run in the GUI thread, and every argument is an
immutable snapshot, so nothing is shared between the threads.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from driver_app.central_watch import CentralStatus
from driver_app.core import DriverListener
from driver_app.network import CpInfo
from driver_app.services import RunView
from driver_app.session import SessionView, Step, TicketInfo


class QtBridge(QObject, DriverListener):
    networkChanged = Signal(list)  # noqa: N815 list[CpInfo]
    centralChanged = Signal(object)  # noqa: N815 CentralStatus
    sessionStep = Signal(object, object)  # noqa: N815 SessionView, Step
    sessionProgress = Signal(object)  # noqa: N815 SessionView
    ticketStored = Signal(object, bool)  # noqa: N815 TicketInfo, current
    ticketAmended = Signal(object, object)  # noqa: N815 TicketInfo, the one it replaces
    runChanged = Signal(object)  # noqa: N815 RunView
    reported = Signal(str)

    def network_changed(self, cps: list[CpInfo]) -> None:
        self.networkChanged.emit(cps)

    def central_changed(self, status: CentralStatus) -> None:
        self.centralChanged.emit(status)

    def session_step(self, view: SessionView, step: Step) -> None:
        self.sessionStep.emit(view, step)

    def session_progress(self, view: SessionView) -> None:
        self.sessionProgress.emit(view)

    def ticket_stored(self, ticket: TicketInfo, current: bool) -> None:
        self.ticketStored.emit(ticket, current)

    def ticket_amended(self, ticket: TicketInfo, was: TicketInfo | None) -> None:
        self.ticketAmended.emit(ticket, was)

    def run_changed(self, view: RunView) -> None:
        self.runChanged.emit(view)

    def report(self, text: str) -> None:
        self.reported.emit(text)
