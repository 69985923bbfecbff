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

from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from central_app.cp_state import CpSession
from wire.kafka.messages import SupplyEnded
from wire.reasons import EndReason
from wire.timefmt import now_ts


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
    flag: str | None = None  # why this is not the engine's final reading (energy_check)
    # Central's inference (the engine's end never came in time): its final reading amends it
    provisional: bool = False


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
    cp_id: str,
    session: CpSession,
    *,
    reason: EndReason | str,
    ended_at: str,
    flag: str | None = None,
) -> TicketData:
    """Central's fallback when the engine never reported the end, or reported an impossible
    energy (``flag``): the last known (plausible) values."""
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
        flag=flag or session.flag,
        provisional=not (flag or session.flag),
    )


#: s Central holds a driver's ``supply_interrupted`` for the engine's final reading
FINAL_READING_WAIT = 2.0
#: inferred sessions kept for an amendment (a few hours of a busy network's interruptions)
MAX_INFERRED = 20_000


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
        # Sessions ticketed by inference, kept a while for the engine's late final reading
        # (its plausibility is judged against them); oldest dropped first.
        self._inferred: OrderedDict[str, CpSession] = OrderedDict()

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

    def issue_inferred(self, cp_id: str, session: CpSession, reason: EndReason) -> TicketData:
        """The ticket Central infers from its last reading of a supply whose end the engine
        never reported in time; provisional: the engine's own reading, if it comes, amends it."""
        self._inferred[session.session_id] = session
        while len(self._inferred) > MAX_INFERRED:
            self._inferred.popitem(last=False)
        return ticket_from_session(cp_id, session, reason=reason, ended_at=now_ts())

    def inferred(self, session_id: str) -> CpSession | None:
        return self._inferred.get(session_id)

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

    def excuse(self, seconds: float) -> None:
        """Central stood still for ``seconds``: the engines' reports waited in Kafka, so every
        wait is that much longer."""
        for entry in self._waiting.values():
            entry.deadline += seconds
            entry.notice_at += seconds

    def due(self, now: float) -> list[Interrupted]:
        """Interrupted supplies whose grace ran out: ticket them from the last known values."""
        out = [e for e in self._waiting.values() if e.deadline <= now]
        for entry in out:
            del self._waiting[entry.session.session_id]
        return out

    @property
    def pending(self) -> int:
        return len(self._waiting)
