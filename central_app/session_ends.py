"""How a session ends, for the driver, the operator and the database: an authorization
taken back (``denied``), a supply interrupted (``supply_interrupted``), a ticket.

Shared by the supply desk (requests, CP transitions, Central's own expiries and fallbacks) and
the engine events (``supply_ended``, ``authorization_expired``/``_rejected``): both end
sessions, and a session must end the same way whoever noticed first. Runs on the core's
owner thread; a ticket leaves only once the database said it is the session's first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future

from central_app.billing import Billing, TicketData
from central_app.cp_state import CpMachine, CpSession
from central_app.hub import Hub
from central_app.views import LogLevel, RequestPhase
from wire.kafka.messages import Denied, Ticket
from wire.kafka.messages import SupplyInterrupted as SupplyInterruptedNotice
from wire.reasons import describe_reason, is_interruption

log = logging.getLogger(__name__)


class SessionEnds:
    def __init__(self, hub: Hub, billing: Billing) -> None:
        self.hub = hub
        self.billing = billing

    def cancelled(self, cp: CpMachine, session: CpSession, status: str, reason: str) -> None:
        self.hub.ledger.close_session(session.session_id, status, reason)
        self.hub.notify_driver(
            session.driver_id,
            Denied(
                request_id=session.request_id or "",
                cp_id=cp.cp_id,
                driver_id=session.driver_id,
                reason=reason,
                session_id=session.session_id,
            ),
        )
        phase = RequestPhase.EXPIRED if status == "expired" else RequestPhase.DENIED
        self.hub.request_update(
            session.request_id,
            phase=phase,
            detail=describe_reason(reason),
            session_id=session.session_id,
        )
        self.hub.say(
            f"authorization of {session.driver_id} ended: {describe_reason(reason)}",
            LogLevel.WARNING,
            cp.cp_id,
        )

    def tell_interrupted(
        self, driver_id: str, session_id: str, cp_id: str, reason: str, kwh: float, eur: float
    ) -> None:
        self.hub.notify_driver(
            driver_id,
            SupplyInterruptedNotice(
                session_id=session_id,
                cp_id=cp_id,
                driver_id=driver_id,
                reason=reason,
                kwh=kwh,
                eur=eur,
            ),
        )

    def issue(self, ticket: TicketData) -> None:
        waiting = self.billing.waiting(ticket.session_id)
        told = waiting is not None and waiting.told
        reason = waiting.reason if waiting is not None else ticket.reason
        self.hub.after(
            self.billing.issue(ticket), lambda new: self._ticketed(ticket, new, told, reason)
        )

    def amend(self, ticket: TicketData) -> None:
        """The engine's final reading of a session Central ticketed by inference (the end
        never came in time): the ticket takes the meter's figures, the driver is sent the
        corrected ticket, the audit and the operator hear of it."""
        self.hub.after(
            self.hub.ledger.amend_ticket(ticket), lambda done: self._amended(ticket, done)
        )

    def _amended(self, ticket: TicketData, done: Future[tuple[float, float, str] | None]) -> None:
        before = done.result() if done.exception() is None else None
        if before is None:
            log.info("ticket for session %s already final; end ignored", ticket.session_id)
            return
        kwh, eur, reason = before
        if abs(kwh - ticket.kwh) < 0.0005 and abs(eur - ticket.eur) < 0.005:
            log.info("the engine confirms the ticket of session %s", ticket.session_id)
            return
        self.hub.counts.amended_ticket(kwh, eur, ticket.kwh, ticket.eur)
        self.hub.notify_driver(
            ticket.driver_id,
            ticket_notice(ticket, was_kwh=kwh, was_eur=eur),
            self._notified(ticket.session_id, amended=True),
        )
        change = (
            f"{kwh:.3f} kWh, {eur:.2f} EUR ({reason}, Central's last reading) -> "
            f"{ticket.kwh:.3f} kWh, {ticket.eur:.2f} EUR ({ticket.reason}, the engine's meter)"
        )
        self.hub.ledger.audit(
            f"cp:{ticket.cp_id}", "ticket_amended", f"session {ticket.session_id}: {change}"
        )
        self.hub.request_update(
            ticket.request_id,
            phase=RequestPhase.INTERRUPTED
            if is_interruption(ticket.reason)
            else RequestPhase.FINISHED,
            detail=f"ticket amended: {ticket.kwh:.3f} kWh, {ticket.eur:.2f} EUR ({ticket.reason})",
            session_id=ticket.session_id,
            driver_id=ticket.driver_id,
            cp_id=ticket.cp_id,
        )
        self.hub.tell(
            "tickets amended by the engines' final readings",
            f"ticket for {ticket.driver_id} amended: {change}",
            LogLevel.WARNING,
            ticket.cp_id,
        )

    def resend_recent(self, tickets: list[tuple[TicketData, str | None]]) -> None:
        """Send again the tickets of the last minutes whose notices never reached the brokers
        (at start): the Central before this one may have written them and been killed or
        deposed before their notices left."""
        for ticket, amended_from in tickets:
            was = _was(amended_from)
            self.hub.notify_driver(
                ticket.driver_id,
                ticket_notice(ticket, was_kwh=was[0], was_eur=was[1])
                if was
                else ticket_notice(ticket),
                self._notified(ticket.session_id, amended=amended_from is not None),
            )

    def _notified(self, session_id: str, *, amended: bool) -> Callable[[], None]:
        """What runs on the owner once the brokers have a ticket notice: the row says so."""
        ledger = self.hub.ledger
        return lambda: ledger.ticket_notified(session_id, amended)

    def _ticketed(
        self, ticket: TicketData, new: Future[bool], told: bool = False, reason: str = ""
    ) -> None:
        """The database said whether this is the session's first ticket: only then send it.

        A supply that did not end by unplugging reaches the driver as ``supply_interrupted``
        then the ticket, whichever came first at Central: the engine's ``supply_ended`` on
        Kafka or the monitor's FAULT on TCP. Unless it was told already (the final reading
        was late), the notice carries the ticket's own figures.
        """
        if new.exception() is not None or not new.result():
            log.info(
                "ticket for session %s already issued; duplicate end ignored", ticket.session_id
            )
            return
        self.hub.counts.ticketed(ticket.reason, ticket.kwh, ticket.eur)
        if not told and is_interruption(ticket.reason):
            self.tell_interrupted(
                ticket.driver_id,
                ticket.session_id,
                ticket.cp_id,
                reason or ticket.reason,
                ticket.kwh,
                ticket.eur,
            )
        self.hub.notify_driver(
            ticket.driver_id,
            ticket_notice(ticket),
            self._notified(ticket.session_id, amended=False),
        )
        phase = (
            RequestPhase.INTERRUPTED if is_interruption(ticket.reason) else RequestPhase.FINISHED
        )
        self.hub.request_update(
            ticket.request_id,
            phase=phase,
            detail=f"ticket: {ticket.kwh:.3f} kWh, {ticket.eur:.2f} EUR ({ticket.reason})",
            session_id=ticket.session_id,
            driver_id=ticket.driver_id,
            cp_id=ticket.cp_id,
        )
        self.hub.say(
            f"ticket for {ticket.driver_id}: {ticket.kwh:.3f} kWh, {ticket.eur:.2f} EUR ({ticket.reason})",
            source=ticket.cp_id,
        )


def ticket_notice(
    ticket: TicketData, *, was_kwh: float | None = None, was_eur: float | None = None
) -> Ticket:
    """The driver's ``ticket`` notice; with ``was_*`` a correction of an earlier one."""
    return Ticket(
        session_id=ticket.session_id,
        cp_id=ticket.cp_id,
        driver_id=ticket.driver_id,
        kwh=ticket.kwh,
        eur=ticket.eur,
        started_at=ticket.started_at,
        ended_at=ticket.ended_at,
        reason=ticket.reason,
        request_id=ticket.request_id,
        was_kwh=was_kwh,
        was_eur=was_eur,
    )


def _was(amended_from: str | None) -> tuple[float, float] | None:
    """(kWh, EUR) of ``sessions.amended_from`` ("0.123 kWh, 0.05 EUR (monitor_lost)")."""
    match = re.match(r"\s*([0-9.]+) kWh, ([0-9.]+) EUR", amended_from or "")
    return (float(match.group(1)), float(match.group(2))) if match else None
