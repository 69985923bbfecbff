"""What a charger does alone (issue 24, item 5), without I/O: a transaction it started with
an id it authorized itself is kept under a session id of the gateway's, says nothing to
Central while it runs (Central has no session to show it in) and ends in one
``supply_ended`` with origin ``offline`` — once, across replays and a gateway restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocpp_gateway import mapping
from ocpp_gateway.station import Station
from ocpp_gateway.transactions import TransactionBook
from tests.ocpp.test_station import CP, authorize, station
from tests.ocpp.test_v201 import reading
from wire.kafka.messages import AuthorizationRejected, SupplyEnded
from wire.timefmt import format_ts

CONNECTED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """An OCPP timestamp ``seconds`` after the charger's connection."""
    return format_ts(CONNECTED + timedelta(seconds=seconds))


def test_a_start_is_the_chargers_own_when_flagged_queued_or_central_is_out_of_reach() -> None:
    alone = mapping.started_alone
    assert alone(at(60), CONNECTED, central_up=True, flagged=True)  # 2.0.1 ``offline``
    assert alone(at(60), CONNECTED, central_up=False)  # the gateway cannot ask Central
    assert alone(at(-600), CONNECTED, central_up=True)  # queued before this connection
    assert alone("2026-12-07T09:50:00", CONNECTED, central_up=True)  # no zone: UTC
    # live: after the connection, or within the clocks' slack of it; unreadable: live
    assert not alone(at(5), CONNECTED, central_up=True)
    assert not alone(at(-mapping.QUEUED_SLACK_S / 2), CONNECTED, central_up=True)
    assert not alone("yesterday", CONNECTED, central_up=True)
    assert not alone(None, CONNECTED, central_up=True)


def test_an_offline_transaction_ends_once_with_the_meters_energy(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.price = 0.5
    tx, accepted, out = st.on_start("D-001", 1000, at(-600), offline=True)
    assert accepted and out.events == []  # nothing to Central: no session there yet
    assert st.on_meter(tx, 1800, 11.0, now=1.0).events == []  # no progress for it either
    (busy,) = st.on_authorize(authorize()).events  # the charger is taken meanwhile
    assert isinstance(busy, AuthorizationRejected) and busy.reason == "charging point is busy"
    (ended,) = st.on_stop(tx, 2800, at(-60), "Local").events
    assert isinstance(ended, SupplyEnded) and ended.origin == "offline"
    assert (ended.driver_id, ended.kwh, ended.eur) == ("D-001", 1.8, 0.9)
    assert ended.started_at == at(-600) and ended.ended_at == at(-60)
    assert ended.session_id and ended.session_id != str(tx)
    assert st.on_stop(tx, 2800, at(-60), "Local").events == []  # replayed: nothing


def test_an_offline_transaction_survives_a_gateway_restart_under_its_session(
    tmp_path: Path,
) -> None:
    st = station(tmp_path)
    tx, _, _ = st.on_start("D-002", 0, at(-300), offline=True)
    session = st.book.open[tx].session_id
    again = Station(CP, TransactionBook(tmp_path, CP))  # a new process reads the book
    (ended,) = again.on_stop(tx, 500, at(-10), None).events
    assert isinstance(ended, SupplyEnded)
    assert (ended.session_id, ended.origin, ended.kwh) == (session, "offline", 0.5)


def test_a_live_start_nobody_authorized_is_still_refused(tmp_path: Path) -> None:
    st = station(tmp_path)
    _, accepted, out = st.on_start("D-001", 0, at(1))
    assert not accepted and out.events == [] and st.book.open == {}


def test_a_201_offline_transaction_is_accepted_and_ends_once(tmp_path: Path) -> None:
    ev = mapping.transaction_event(
        "Started", at(-120), {"transaction_id": "t-9"}, {"id_token": "D-003"}, [reading(100)], True
    )
    assert ev.offline
    st = station(tmp_path)
    verdict, out = st.on_transaction_event(ev, now=0.0)
    assert verdict is True and out.events == []
    assert st.on_transaction_event(ev, now=0.0)[1].events == []  # a replayed Started
    end = mapping.TxEvent(kind=mapping.ENDED, charger_tx="t-9", timestamp=at(-5), wh=400.0)
    (ended,) = st.on_transaction_event(end, now=1.0)[1].events
    assert isinstance(ended, SupplyEnded) and (ended.origin, ended.kwh) == ("offline", 0.3)
    assert st.on_transaction_event(end, now=2.0)[1].events == []
