"""Tickets: exactly one per session, with an in-memory store and with the real database."""

from __future__ import annotations

import pytest

from central_app.billing import Billing, TicketData, ticket_from_ended, ticket_from_session
from central_app.cp_state import CpSession
from central_app.db import open_database
from central_app.store import Store
from wire.kafka.messages import SupplyEnded
from wire.reasons import EndReason


class MemoryStore:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketData] = {}

    def issue_ticket(self, ticket: TicketData) -> bool:
        if ticket.session_id in self.tickets:
            return False
        self.tickets[ticket.session_id] = ticket
        return True


def ended(kwh: float = 1.234, eur: float = 9.99, reason: str = "unplugged") -> SupplyEnded:
    return SupplyEnded(
        session_id="s1",
        cp_id="CP-01",
        driver_id="D-001",
        kwh=kwh,
        eur=eur,
        started_at="2026-01-01T00:00:00.000Z",
        ended_at="2026-01-01T00:10:00.000Z",
        reason=reason,
    )


def test_amount_uses_centrals_price() -> None:
    ticket = ticket_from_ended(ended(kwh=2.0, eur=123.0), price=0.4, request_id="r1")
    assert (ticket.kwh, ticket.eur, ticket.request_id) == (2.0, 0.8, "r1")
    assert ticket_from_ended(ended(eur=3.14159), price=None).eur == 3.14


def test_same_supply_ended_twice_gives_one_ticket() -> None:
    store = MemoryStore()
    billing = Billing(store)
    assert billing.issue(ticket_from_ended(ended(), price=0.4)).result()
    assert not billing.issue(ticket_from_ended(ended(), price=0.4)).result()
    assert len(store.tickets) == 1


def test_interrupted_supply_waits_then_tickets_last_known_values() -> None:
    billing = Billing(MemoryStore(), grace=10)
    s = CpSession(session_id="s1", driver_id="D-001", price=0.5, expires_at="x", started_at="t0")
    s.seq, s.kwh = 3, 1.0
    billing.interrupted("CP-01", s, EndReason.MONITOR_LOST, now=100.0)
    assert billing.note_progress("s1", 4, 1.5, 0.0)
    billing.note_progress("s1", 2, 9.9, 0.0)  # older than what we have: ignored
    assert s.kwh == 1.5
    assert billing.due(now=105.0) == []
    (entry,) = billing.due(now=110.0)
    ticket = ticket_from_session(
        entry.cp_id, entry.session, reason=entry.reason.value, ended_at="t1"
    )
    assert (ticket.kwh, ticket.eur, ticket.reason) == (1.5, 0.75, "monitor_lost")
    assert billing.pending == 0


def test_engine_report_during_grace_wins() -> None:
    store = MemoryStore()
    billing = Billing(store, grace=10)
    s = CpSession(session_id="s1", driver_id="D-001", price=0.5, expires_at="x")
    billing.interrupted("CP-01", s, EndReason.FAULT, now=0.0)
    assert billing.issue(ticket_from_ended(ended(kwh=4.0, reason="fault"), price=0.5)).result()
    assert billing.due(now=100.0) == []  # nothing left to ticket
    assert store.tickets["s1"].kwh == 4.0


@pytest.fixture
def store(db_url: str) -> Store:
    return Store(open_database(db_url))


def test_database_ticket_idempotence(store: Store) -> None:
    store.create_session(
        cp_id="CP-01",
        session_id="s1",
        request_id="r1",
        driver_id="D-001",
        origin="app",
        price=0.4,
        authorized_at="t",
        expires_at="t",
    )
    ticket = ticket_from_ended(ended(), price=0.4, request_id="r1")
    assert store.issue_ticket(ticket)
    assert not store.issue_ticket(ticket)
    assert not store.issue_ticket(ticket_from_ended(ended(kwh=9.0), price=0.4))
    (only,) = store.tickets()
    assert only.kwh == 1.234 and only.request_id == "r1"


def test_database_ticket_for_a_session_central_never_saw(store: Store) -> None:
    ticket = ticket_from_ended(ended(), price=None)
    assert store.issue_ticket(ticket)
    assert not store.issue_ticket(ticket)
    assert len(store.tickets("s1")) == 1
