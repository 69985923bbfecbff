"""Supplies a charger started on its own, offline (``central_app.offline_supplies``, issue 24
item 5): the end is the whole session. The supply desk on a real SQLite store, no broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from central_app.db import SessionRow
from central_app.engine_events import ForeignSession
from central_app.reconcile import find_discrepancies
from tests.central.conftest import Recorder
from tests.central.test_supplies import online
from tests.central.test_supplies import world as world  # noqa: F401 (the fixture)
from wire.kafka.messages import SupplyEnded, Ticket
from wire.states import OFFLINE_ORIGIN
from wire.timefmt import format_ts, utc_now


def offline_end(
    session: str = "gw-1", driver: str = "D-001", kwh: float = 1.8, minutes: float = 10
) -> SupplyEnded:
    """A charger's end of a transaction it started ``minutes`` ago, alone."""
    now = utc_now()
    return SupplyEnded(
        session_id=session,
        cp_id="CP-01",
        driver_id=driver,
        kwh=kwh,
        eur=0.0,  # the gateway's estimate; Central prices it
        started_at=format_ts(now - timedelta(minutes=minutes)),
        ended_at=format_ts(now),
        reason="unplugged",
        origin=OFFLINE_ORIGIN,
    )


def test_a_drivers_offline_supply_is_billed_once_at_the_cps_price(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    price = hub.cps["CP-01"].price
    desk.cp_event(offline_end())
    desk.cp_event(offline_end())  # replayed: the session is known now, nothing twice
    (ticket,) = store.tickets()
    assert (ticket.session_id, ticket.driver_id, ticket.kwh) == ("gw-1", "D-001", 1.8)
    assert ticket.eur == round(1.8 * price, 2) and ticket.flag is None
    notices = [e for t, k, e in outbox.sent if t == topics.driver_notices and k == "D-001"]
    assert [type(n) for n in notices] == [Ticket]
    assert find_discrepancies(store.db) == []  # authorized when heard of, metered, priced
    audited = [(w, d) for _, w, a, d in store.audit_entries(10) if a == "offline_supply"]
    assert len(audited) == 1 and audited[0][0] == "cp:CP-01" and "1.800 kWh" in audited[0][1]
    assert hub.cps["CP-01"].session is None  # the CP is free: the supply is over
    with store.db.Session.begin() as s:
        row = s.scalar(select(SessionRow).where(SessionRow.session_id == "gw-1"))
        assert row is not None and (row.origin, row.price) == ("offline", price)


def test_an_id_the_registry_does_not_know_is_audited_told_and_billed_to_no_one(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    recorder = Recorder()
    hub.add_listener(recorder)
    online(monitors, "CP-01")
    desk.cp_event(offline_end("gw-2", driver="CARD-42", kwh=0.7))
    desk.cp_event(offline_end("gw-2", driver="CARD-42", kwh=0.7))  # replayed: said once
    assert store.tickets() == []
    assert not [e for t, _, e in outbox.sent if t == topics.driver_notices]
    (detail,) = [d for _, _, a, d in store.audit_entries(10) if a == "offline_unknown_id"]
    assert "'CARD-42'" in detail and "0.700 kWh" in detail and "billed to no one" in detail
    told = [e for e in recorder.logs if "CARD-42" in e.text]
    assert len(told) == 1 and told[0].source == "CP-01"


def test_energy_a_charger_could_not_deliver_in_its_own_time_is_flagged_not_billed(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    hub.cps["CP-01"].rated_kw = 22.0
    desk.cp_event(offline_end("gw-3", kwh=50.0, minutes=1))  # 50 kWh in a minute at 22 kW
    (ticket,) = store.tickets()
    assert (ticket.kwh, ticket.eur) == (0.0, 0.0) and "implausible" in (ticket.flag or "")


def test_an_end_for_a_session_central_never_authorized_is_still_refused(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    forged = offline_end("gw-4")
    with pytest.raises(ForeignSession):
        desk.cp_event(replace(forged, origin=None))
