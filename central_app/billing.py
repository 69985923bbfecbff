"""Tickets: exactly one per ``session_id``, however often its end is reported.

``supply_ended`` may arrive twice (at-least-once Kafka, a restarted engine replaying its
journal) and Central may also end a session itself when the engine never reports. The
:class:`TicketStore` (the database, a unique ``session_id``) decides atomically whether a
ticket is new; :class:`Billing` adds the pricing rule and the waiting room for interrupted
supplies. No I/O here.

Pricing: the amount is ``round(kWh × price, 2)`` with the price Central authorized the
session at; the engine's own € is used only when Central knows no price for the session.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from central_app.cp_state import CpSession
from wire.kafka.messages import SupplyEnded
from wire.reasons import EndReason


@dataclass(frozen=True, slots=True)
class TicketData:
    session_id: str
    cp_id: str
    driver_id: str
    kwh: float
    eur: float
    started_at: str
    ended_at: str
    reason: str
    request_id: str | None = None


class TicketStore(Protocol):
    def issue_ticket(self, ticket: TicketData) -> bool | Future[bool]:
        """Record the ticket unless this session already has one; True when it is new
        (Central's ledger answers with a future that resolves once the row is written)."""
        ...


def amount(kwh: float, price: float | None, reported_eur: float) -> float:
    if price is None:
        return round(reported_eur, 2)
    return round(max(kwh, 0.0) * price, 2)


def ticket_from_ended(
    event: SupplyEnded, *, price: float | None, request_id: str | None = None
) -> TicketData:
    kwh = round(max(event.kwh, 0.0), 3)
    return TicketData(
        session_id=event.session_id,
        cp_id=event.cp_id,
        driver_id=event.driver_id,
        kwh=kwh,
        eur=amount(kwh, price, event.eur),
        started_at=event.started_at,
        ended_at=event.ended_at,
        reason=event.reason,
        request_id=request_id,
    )


def ticket_from_session(
    cp_id: str, session: CpSession, *, reason: EndReason, ended_at: str
) -> TicketData:
    """Central's fallback when the engine never reported the end: the last known values."""
    kwh = round(max(session.kwh, 0.0), 3)
    return TicketData(
        session_id=session.session_id,
        cp_id=cp_id,
        driver_id=session.driver_id,
        kwh=kwh,
        eur=amount(kwh, session.price, session.eur),
        started_at=session.started_at or session.authorized_at or ended_at,
        ended_at=ended_at,
        reason=reason,
        request_id=session.request_id,
    )


#: s Central holds a driver's ``supply_interrupted`` for the engine's final reading
FINAL_READING_WAIT = 2.0


@dataclass
class Interrupted:
    """A supply Central saw break off, waiting for the engine's ``supply_ended``.

    The driver's ``supply_interrupted`` waits too, until ``notice_at``: the engine that saw
    the fault (a technician's KO) has usually sent its final reading already, on Kafka, while
    the monitor's FAULT came over TCP; with that reading the notice carries the energy the
    ticket will show instead of a stale one. ``told`` once the notice left.
    """

    cp_id: str
    session: CpSession
    reason: EndReason
    deadline: float  # monotonic: ticket from the last known values after this
    notice_at: float = 0.0  # monotonic: tell the driver with the last known values after this
    told: bool = False


class Billing:
    def __init__(
        self, store: TicketStore, *, grace: float = 15.0, final_wait: float = FINAL_READING_WAIT
    ) -> None:
        self._store = store
        self.grace = grace
        self.final_wait = min(final_wait, grace)
        self._waiting: dict[str, Interrupted] = {}

    def issue(self, ticket: TicketData) -> Future[bool]:
        """Resolves to True when this call created the session's ticket (then, and only
        then, send it)."""
        self._waiting.pop(ticket.session_id, None)
        result = self._store.issue_ticket(ticket)
        if isinstance(result, Future):
            return result
        future: Future[bool] = Future()
        future.set_result(result)
        return future

    # --- interrupted supplies -------------------------------------------------------------

    def interrupted(self, cp_id: str, session: CpSession, reason: EndReason, now: float) -> None:
        self._waiting[session.session_id] = Interrupted(
            cp_id, session, reason, now + self.grace, now + self.final_wait
        )

    def notices_due(self, now: float) -> list[Interrupted]:
        """Interrupted supplies whose final reading did not come in time: the driver is told
        now with the last known values (and marked told, so only once)."""
        out = [e for e in self._waiting.values() if not e.told and e.notice_at <= now]
        for entry in out:
            entry.told = True
        return out

    def waiting(self, session_id: str) -> Interrupted | None:
        return self._waiting.get(session_id)

    def note_progress(self, session_id: str, seq: int, kwh: float, eur: float) -> bool:
        """Keep the best known values of an interrupted supply; True if it is one."""
        entry = self._waiting.get(session_id)
        if entry is None:
            return False
        if seq > entry.session.seq:
            entry.session.seq, entry.session.kwh, entry.session.eur = seq, kwh, eur
        return True

    def due(self, now: float) -> list[Interrupted]:
        """Interrupted supplies whose grace ran out: ticket them from the last known values."""
        out = [e for e in self._waiting.values() if e.deadline <= now]
        for entry in out:
            del self._waiting[entry.session.session_id]
        return out

    @property
    def pending(self) -> int:
        return len(self._waiting)
