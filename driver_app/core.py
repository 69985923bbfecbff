"""The driver's brain: sessions, network view, Central watch, services runs, ticket history.

No Kafka, no Qt, no threads. The runtime feeds it events and the clock and gives it a
``send`` function for charge requests; it reports everything to a ``DriverListener``.
Only the runtime's thread calls it, so it needs no locks; listeners get immutable snapshots.

Which notices are this driver's: the consumer reads only the partition of this driver's key
and skips other keys there; the core checks ``driver_id`` again (defence in depth). A notice
for the current request/supply updates it. A notice for a supply this run does not know,
while the driver is idle, is *adopted*: it is the supply that was running (or ended) while
the app was closed, so the driver sees its live state or its ticket after a restart.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from driver_app.central_watch import CentralStatus, CentralWatch
from driver_app.history import HistoryError, TicketHistory
from driver_app.network import CpInfo, NetworkView
from driver_app.services import EntryResult, RunView, ServiceEntry, ServiceRun
from driver_app.session import (
    ChargeSession,
    Notice,
    Phase,
    SessionView,
    Step,
    TicketInfo,
)
from wire.errors import WireError
from wire.kafka.messages import (
    AuthorizedNotice,
    CentralAlive,
    ChargeRequest,
    CpState,
    RequestReceived,
    Ticket,
)
from wire.states import Origin

log = logging.getLogger(__name__)


class DriverListener:
    """What the core tells its views. Override what you need; every method is a no-op here.

    Called on the core's thread; views that live elsewhere (Qt) hand the calls over.
    """

    def network_changed(self, cps: list[CpInfo]) -> None:
        """Some CPs changed (a batch, in topic order, latest info per CP)."""

    def central_changed(self, status: CentralStatus) -> None:
        """Central's reachability changed."""

    def session_step(self, view: SessionView, step: Step) -> None:
        """The current request moved on (a new line of its story)."""

    def session_progress(self, view: SessionView) -> None:
        """Live numbers of the current supply changed (no new step)."""

    def ticket_stored(self, ticket: TicketInfo, current: bool) -> None:
        """A new ticket is in the history; ``current`` if it ends the session on screen."""

    def ticket_amended(self, ticket: TicketInfo, was: TicketInfo | None) -> None:
        """Central corrected a ticket with the charger's final meter reading (``was``: the
        ticket it replaces in the history)."""

    def run_changed(self, view: RunView) -> None:
        """A services run moved on (started, request i of n, paused, finished)."""

    def network_ready(self, count: int) -> None:
        """The replay of ``evc.network.state`` is over: ``count`` CPs are known (once)."""

    def report(self, text: str) -> None:
        """Something the driver should read that is not part of a session (e.g. skipped id)."""


class DriverCore:
    def __init__(
        self,
        driver_id: str,
        send: Callable[[ChargeRequest], None],
        listener: DriverListener | None = None,
        *,
        history: TicketHistory | None = None,
        request_timeout_s: float = 10.0,
        pause_s: float = 4.0,
        central_silence_s: float = 3.0,
        network_grace_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver_id = driver_id
        self._send = send
        self.listener = listener or DriverListener()
        self.history = history or TicketHistory(None)
        self._request_timeout_s = request_timeout_s
        self._pause_s = pause_s
        self._network_grace_s = network_grace_s
        self._clock = clock
        self.network = NetworkView()
        self.central = CentralWatch(clock(), central_silence_s)
        self.session: ChargeSession | None = None
        self.run: ServiceRun | None = None
        self._past: set[str] = set()  # request and session ids of sessions this run replaced
        self._changed_cps: dict[str, CpInfo] = {}
        self._last_run_view: RunView | None = None
        self.network_loaded = False  # set by the runtime once evc.network.state is replayed
        self._network_ready_told = False

    # --- questions -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.session is not None and not self.session.ended

    @property
    def running_file(self) -> bool:
        return self.run is not None and not self.run.view(self._clock()).finished

    # --- commands from the driver ----------------------------------------------------------

    def request(self, cp_id: str) -> str | None:
        """Ask for a charge at ``cp_id``; returns why not (text), or None when sent."""
        cp_id = cp_id.strip()
        if not cp_id:
            return "No charging point given"
        if self.running_file:
            return "A services file is running; stop it first"
        return self._request(cp_id)

    def run_file(self, name: str, entries: list[ServiceEntry]) -> str | None:
        """Start running a services file; returns why not, or None when started."""
        if self.running_file:
            return "A services file is already running"
        if self.busy:
            return "Wait until the current charge has ended"
        now = self._clock()
        self.run = ServiceRun(
            Path(name).name,
            list(entries),
            started=now,
            pause_s=self._pause_s,
            network_grace_s=self._network_grace_s,
        )
        self._emit_run(force=True)
        return None

    def stop_after_current(self) -> None:
        if self.run is not None:
            self.run.stop_after_current()
            self._emit_run(force=True)

    # --- events from Kafka -----------------------------------------------------------------

    def on_cp_state(self, event: CpState) -> None:
        info = self.network.apply(event)
        if info is not None:
            self._changed_cps[info.cp_id] = info

    def on_central_alive(self, event: CentralAlive) -> None:
        status = self.central.alive(event, self._clock())
        if status is not None:
            self.listener.central_changed(status)

    def on_broker(self, up: bool) -> None:
        status = self.central.broker(up, self._clock())
        if status is not None:
            self.listener.central_changed(status)

    def on_notice(self, notice: Notice) -> None:
        if getattr(notice, "driver_id", self.driver_id) != self.driver_id:
            log.warning("dropped a notice for driver %s", getattr(notice, "driver_id", "?"))
            return
        now = self._clock()
        if isinstance(notice, Ticket) and notice.session_id in self.history:
            if notice.amended:
                self._amend_ticket(TicketInfo.from_notice(notice))
            else:
                log.info("duplicate ticket for session %s ignored", notice.session_id)
            return
        session = self.session
        if session is None or not session.owns(notice):
            if not self._adoptable(notice):
                if isinstance(notice, Ticket):
                    self._store_ticket(TicketInfo.from_notice(notice), current=False)
                else:
                    log.info("ignored %s for a past request", notice.TYPE)
                return
            session = self._adopt(notice, now)
        step = session.apply(notice, now)
        if isinstance(notice, Ticket) and session.ticket is not None:
            self._store_ticket(session.ticket, current=True)
        view = session.view()
        if step is not None:
            self.listener.session_step(view, step)
            if session.ended:
                self._session_ended(view, now)
        else:
            self.listener.session_progress(view)

    # --- time ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Call often (every ~100 ms): timeouts, Central watch, the services run, batches."""
        now = self._clock()
        status = self.central.tick(now)
        if status is not None:
            self.listener.central_changed(status)
        if self.session is not None:
            step = self.session.tick(now)
            if step is not None:
                view = self.session.view()
                self.listener.session_step(view, step)
                self._session_ended(view, now)
        if self._changed_cps:
            batch = list(self._changed_cps.values())
            self._changed_cps.clear()
            self.listener.network_changed(batch)
        if self.network_loaded and not self._network_ready_told:
            self._network_ready_told = True
            self.listener.network_ready(len(self.network))
        self._drive_run(now)

    # --- internals -------------------------------------------------------------------------

    def _request(self, cp_id: str) -> str | None:
        if self.busy:
            assert self.session is not None
            if self.session.card and self.session.phase == Phase.AUTHORIZED:
                return f"Reserved by your card at {self.session.cp_id}: plug in there"
            return f"A charge is already in progress at {self.session.cp_id}"
        # Only once the replay of the network is over: a CP missing from a half-read network
        # may be on the next page, and Central refuses an id it does not know anyway.
        if self.network_loaded and len(self.network) and not self.network.knows(cp_id):
            return f"Unknown charging point {cp_id!r}"
        info = self.network.get(cp_id)
        request = ChargeRequest(
            request_id=uuid.uuid4().hex, driver_id=self.driver_id, cp_id=cp_id, origin=Origin.APP
        )
        self._retire_session()
        session = ChargeSession(
            request_id=request.request_id,
            cp_id=cp_id,
            driver_id=self.driver_id,
            created=self._clock(),
            timeout_s=self._request_timeout_s,
            location=info.location if info else "",
        )
        self.session = session
        try:
            self._send(request)
        except WireError as exc:
            log.warning("charge request not sent: %s", exc)
            self.session = None
            return f"Cannot send the request: {exc}"
        self.listener.session_step(session.view(), session.start())
        return None

    def _adoptable(self, notice: Notice) -> bool:
        if self.busy:
            return False
        ids = {getattr(notice, "request_id", None), getattr(notice, "session_id", None)}
        ids.discard(None)
        if not ids or ids & self._past:
            return False
        session_id = getattr(notice, "session_id", None)
        return not (session_id is not None and session_id in self.history)

    def _adopt(self, notice: Notice, now: float) -> ChargeSession:
        """A session this app did not request: one from before a restart (``resumed``), or
        one the driver's card opened at the CP (an authorization with origin ``cp``)."""
        info = self.network.get(notice.cp_id)
        card = isinstance(notice, AuthorizedNotice | RequestReceived) and notice.origin == Origin.CP
        self._retire_session()
        session = ChargeSession(
            request_id=getattr(notice, "request_id", None) or "",
            cp_id=notice.cp_id,
            driver_id=self.driver_id,
            created=now,
            timeout_s=self._request_timeout_s,
            location=info.location if info else "",
            resumed=not card,
            card=card,
            session_id=getattr(notice, "session_id", None),
        )
        self.session = session
        if card:
            log.info("%s reserved by this driver's card (%s)", notice.cp_id, session.session_id)
        else:
            log.info("adopted %s %s from before this run", notice.TYPE, session.session_id)
        return session

    def _retire_session(self) -> None:
        if self.session is not None:
            self._past.add(self.session.request_id)
            if self.session.session_id:
                self._past.add(self.session.session_id)

    def _store_ticket(self, ticket: TicketInfo, current: bool) -> None:
        try:
            stored = self.history.add(ticket)
        except HistoryError as exc:
            self.listener.report(f"Ticket received but not saved: {exc}")
            stored = True
        if stored:
            self.listener.ticket_stored(ticket, current)

    def _amend_ticket(self, ticket: TicketInfo) -> None:
        try:
            was = self.history.amend(ticket)
        except HistoryError as exc:
            self.listener.report(f"Corrected ticket received but not saved: {exc}")
            was = None
        if was == ticket:
            return  # a redelivered correction
        self.listener.ticket_amended(ticket, was)

    def _session_ended(self, view: SessionView, now: float) -> None:
        if self.run is None:
            return
        result = self.run.request_ended(view, now)
        if result is not None:
            self._emit_run(force=True)

    def _drive_run(self, now: float) -> None:
        run = self.run
        if run is None:
            return
        knows = self.network.knows if self.network_loaded and len(self.network) else None
        entry, skipped = run.next_entry(now, self.network_loaded, knows, self.busy)
        for result in skipped:
            self._report_skip(result)
        if entry is not None:
            self._emit_run(force=True)  # "request i of n" before the request's own steps
            why_not = self._request(entry.cp_id)
            if why_not is None:
                assert self.session is not None
                run.started_request(self.session.request_id)
            else:
                self.listener.report(f"line {entry.line}: {why_not}")
                run.request_not_sent(why_not, now)
        # after skipped lines, once: "request i of n" was just shown if one was sent
        self._emit_run(force=bool(skipped) and entry is None)

    def _report_skip(self, result: EntryResult) -> None:
        self.listener.report(
            f"line {result.entry.line}: unknown CP id {result.entry.cp_id!r} — skipped"
        )

    def _emit_run(self, force: bool = False) -> None:
        if self.run is None:
            return
        view = self.run.view(self._clock())
        last = self._last_run_view
        if (
            force
            or last is None
            or (view.state, view.index, view.stop_requested)
            != (last.state, last.index, last.stop_requested)
        ):
            self._last_run_view = view
            self.listener.run_changed(view)
