"""The side panels: Central indicator, current charge, services run."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from driver_app.central_watch import CentralStatus
from driver_app.services import RunState, RunView
from driver_app.session import Phase, SessionView, Step, TicketInfo, describe_reason, format_elapsed
from wire.health_messages import CentralLink
from wire.qtfollow import FollowEnd
from wire.reasons import EndReason, is_interruption, reason_code
from wire.timefmt import local_time

GREEN, RED, GREY, BLUE, ORANGE = "#2f9e44", "#e03131", "#868e96", "#1971c2", "#e67700"

PHASE_COLOURS = {
    Phase.REQUESTED: GREY,
    Phase.RECEIVED: BLUE,
    Phase.AUTHORIZED: BLUE,
    Phase.SUPPLYING: GREEN,
    Phase.FINISHED: GREEN,
    Phase.DENIED: RED,
    Phase.INTERRUPTED: ORANGE,
    Phase.TIMED_OUT: RED,
}

HEADLINES = {
    Phase.REQUESTED: "Waiting for Central…",
    Phase.RECEIVED: "Central is checking the charging point…",
    Phase.AUTHORIZED: "Plug in at {cp}",
    Phase.SUPPLYING: "Charging at {cp}",
    Phase.FINISHED: "Charge finished at {cp}",
    Phase.DENIED: "Request denied",
    Phase.INTERRUPTED: "Charge interrupted at {cp}",
    Phase.TIMED_OUT: "Cannot reach CENTRAL",
}


STEP_LINES = 6  # the timeline's least height, in lines: a charge's whole story

TICKET_TONES = {  # the ticket card's colours by how the charge ended
    "finished": "background: #ebfbee; border: 1px solid #b2f2bb;",
    "interrupted": "background: #fff4e6; border: 1px solid #ffc078;",
    "fault": "background: #fff5f5; border: 1px solid #ffa8a8;",
}


def _card() -> QFrame:
    frame = QFrame()
    frame.setObjectName("card")
    return frame


class CentralIndicator(QLabel):
    """A pill: green "Central online", red "Cannot reach CENTRAL", grey while connecting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("centralIndicator")
        self.set_status(CentralStatus(None, None, None))

    def set_status(self, status: CentralStatus) -> None:
        colour = {
            CentralLink.UP: GREEN,
            CentralLink.DOWN: RED,
            None: GREY,
        }[status.link]
        self.setText(f"●  {status.text}")
        self.setProperty("link", status.key)
        self.setStyleSheet(
            f"QLabel {{ background: {colour}; color: white; border-radius: 12px;"
            " padding: 4px 14px; font-weight: 600; }"
        )


class Metric(QWidget):
    """A big number with a small caption under it."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.value = QLabel("–")
        self.value.setObjectName("metricValue")
        self.value.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label = QLabel(caption)
        label.setObjectName("metricCaption")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.value)
        layout.addWidget(label)

    def set(self, text: str) -> None:
        self.value.setText(text)


class ChargePanel(QFrame):
    """The current charge: headline, live numbers, each step with its time, the ticket."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.view: SessionView | None = None
        layout = QVBoxLayout(self)
        title = QLabel("Current charge")
        title.setObjectName("cardTitle")
        self.headline = QLabel("Pick a green charging point on the map to start charging.")
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)
        self.detail = QLabel("")
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        numbers = QHBoxLayout()
        self.kw = Metric("kW now")
        self.kwh = Metric("kWh")
        self.eur = Metric("€")
        self.elapsed = Metric("elapsed")
        for metric in (self.kw, self.kwh, self.eur, self.elapsed):
            numbers.addWidget(metric)
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # a whole charge's story fits (requested … finished) and the newest line stays in
        # sight when the ticket card below takes its room
        self.steps.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.steps.setMinimumHeight(
            STEP_LINES * self.steps.fontMetrics().lineSpacing() + 2 * self.steps.frameWidth() + 8
        )
        self.steps_follow = FollowEnd(self.steps)
        self.ticket = QLabel("")
        self.ticket.setObjectName("ticket")
        self.ticket.setWordWrap(True)
        self.ticket.hide()
        layout.addWidget(title)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addLayout(numbers)
        layout.addWidget(self.steps, 1)
        layout.addWidget(self.ticket)

    def show_step(self, view: SessionView, step: Step) -> None:
        if (
            self.view is None
            or view.request_id != self.view.request_id
            or (
                view.session_id and self.view.session_id and view.session_id != self.view.session_id
            )
        ):
            self.steps.clear()
            self.steps_follow.to_end()  # a new charge: follow its story again
            self.ticket.hide()
        self.view = view
        item = QListWidgetItem(f"{local_time(step.at)}   {step.text}")
        item.setForeground(QColor(PHASE_COLOURS[step.phase]))
        self.steps.addItem(item)
        self._refresh()
        if view.ticket is not None:
            self.show_ticket(view.ticket)

    def show_progress(self, view: SessionView) -> None:
        self.view = view
        self._refresh()

    def show_ticket(self, ticket: TicketInfo) -> None:
        # green only for a charge that ended as planned (unplugged); a fault is red, any other
        # interruption (stopped by Central, lost contact, restart) orange, like the headline
        tone = "fault" if reason_code(ticket.reason) == EndReason.FAULT else "interrupted"
        tone = tone if is_interruption(ticket.reason) else "finished"
        if self.ticket.property("tone") != tone:
            self.ticket.setProperty("tone", tone)
            self.ticket.setStyleSheet(f"QLabel#ticket {{ {TICKET_TONES[tone]} }}")
        self.ticket.setText(
            "<table width='100%'>"
            f"<tr><td colspan=2><b>Ticket — {ticket.cp_id}</b></td></tr>"
            f"<tr><td>Energy</td><td align=right><b>{ticket.kwh:.3f} kWh</b></td></tr>"
            f"<tr><td>Amount</td><td align=right><b>{ticket.eur:.2f} €</b></td></tr>"
            f"<tr><td>From – to</td><td align=right>{local_time(ticket.started_at)} – "
            f"{local_time(ticket.ended_at)} ({format_elapsed(ticket.duration_s)})</td></tr>"
            f"<tr><td>Ended</td><td align=right>{describe_reason(ticket.reason)}</td></tr>"
            "</table>"
        )
        self.ticket.show()

    def tick(self) -> None:
        """Once a second: the elapsed time moves even between progress notices."""
        if self.view is not None and self.view.phase == Phase.SUPPLYING:
            self.elapsed.set(format_elapsed(self.view.elapsed_s()))

    def _refresh(self) -> None:
        view = self.view
        if view is None:
            return
        headline = HEADLINES[view.phase].format(cp=view.cp_id)
        if view.phase == Phase.AUTHORIZED and view.card:
            headline = f"Reserved by your card at {view.cp_id}"
        if view.phase == Phase.AUTHORIZED and view.location:
            headline += f" ({view.location})"
        if view.resumed:
            headline += "  · resumed"
        self.headline.setText(headline)
        self.headline.setStyleSheet(f"color: {PHASE_COLOURS[view.phase]};")
        where = f"{view.cp_id}" + (f" · {view.location}" if view.location else "")
        if view.phase in (Phase.DENIED, Phase.INTERRUPTED, Phase.TIMED_OUT) and view.reason:
            where += f" — {describe_reason(view.reason)}"
        self.detail.setText(where)
        live = view.phase == Phase.SUPPLYING
        self.kw.set(f"{view.kw:.1f}" if live else "–")
        self.kwh.set(f"{view.kwh:.3f}")
        self.eur.set(f"{view.eur:.2f}")
        started = view.supply_started_at is not None or view.ticket is not None
        self.elapsed.set(format_elapsed(view.elapsed_s()) if started else "–")


class RunPanel(QFrame):
    """Running a services file: progress "request i of n", stop after current, messages."""

    openRequested = Signal()  # noqa: N815
    stopRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        layout = QGridLayout(self)
        title = QLabel("Services file")
        title.setObjectName("cardTitle")
        self.open_button = QPushButton("Run a file…")
        self.stop_button = QPushButton("Stop after current")
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("no file running")
        self.progress.setValue(0)
        self.status = QLabel("Run a list of charging points unattended, one after another.")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.messages = QListWidget()
        self.messages.setObjectName("messages")
        self.messages.setMaximumHeight(90)
        self.messages.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.messages_follow = FollowEnd(self.messages)
        layout.addWidget(title, 0, 0)
        layout.addWidget(self.open_button, 0, 1)
        layout.addWidget(self.stop_button, 0, 2)
        layout.addWidget(self.progress, 1, 0, 1, 3)
        layout.addWidget(self.status, 2, 0, 1, 3)
        layout.addWidget(self.messages, 3, 0, 1, 3)
        layout.setColumnStretch(0, 1)
        self.open_button.clicked.connect(self.openRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.view: RunView | None = None

    def show_run(self, view: RunView) -> None:
        self.view = view
        self.progress.setMaximum(max(view.total, 1))
        done = len(view.results)
        self.progress.setValue(done)
        running = not view.finished
        self.open_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not view.stop_requested)
        if view.state is RunState.WAITING_NETWORK:
            self.progress.setFormat(f"{view.name}: waiting for the network…")
        elif running:
            self.progress.setFormat(f"{view.name}: request {max(view.index, 1)} of {view.total}")
        else:
            self.progress.setFormat(f"{view.name}: {done} of {view.total} done")
        if view.finished:
            self.status.setText(view.summary())
        elif view.state is RunState.PAUSING:
            self.status.setText("Short pause before the next request…")
        elif view.current is not None:
            self.status.setText(
                f"Request {view.index} of {view.total}: {view.current.cp_id}"
                + (" — will stop after this one" if view.stop_requested else "")
            )
        if view.results and (self.messages.count() == 0 or running or view.finished):
            self._sync_results(view)

    def _sync_results(self, view: RunView) -> None:
        shown = self.messages.property("results") or 0
        for result in view.results[shown:]:
            self.add_message(f"{result.entry.cp_id}: {result.detail}")
        self.messages.setProperty("results", len(view.results))

    def add_message(self, text: str) -> None:
        self.messages.addItem(text)
