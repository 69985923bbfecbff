"""One charge point's decisions (``ocpp_gateway.station``), without sockets or Kafka."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ocpp_gateway.station import ChangeAvailability, RemoteStart, RemoteStop, Station
from ocpp_gateway.transactions import TransactionBook
from wire.kafka.messages import (
    AuthorizationExpired,
    AuthorizationRejected,
    Authorize,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.tcp_messages import AdminState, EngineHealth
from wire.timefmt import format_ts, utc_now

CP = "OCPP-01"


def authorize(session: str = "s1", driver: str = "D-001", ttl: float = 30) -> Authorize:
    return Authorize(
        session_id=session,
        request_id="r1",
        driver_id=driver,
        cp_id=CP,
        price=0.4,
        expires_at=format_ts(utc_now() + timedelta(seconds=ttl)),
    )


def station(tmp_path: Path) -> Station:
    return Station(CP, TransactionBook(tmp_path, CP))


def test_a_full_transaction_bills_the_meters_energy(tmp_path: Path) -> None:
    st = station(tmp_path)
    assert st.on_authorize(authorize()).calls == [RemoteStart("D-001")]
    tx, accepted, out = st.on_start("D-001", 1000, "2026-11-26T06:00:00Z")
    assert accepted
    (started,) = out.events
    assert isinstance(started, SupplyStarted) and started.started_at == "2026-11-26T06:00:00.000Z"
    (progress,) = st.on_meter(tx, 3000, None, now=10.0).events
    assert isinstance(progress, SupplyProgress) and (progress.kwh, progress.eur) == (2.0, 0.8)
    (progress,) = st.on_meter(tx, 4000, None, now=11.0).events  # 1 kWh in 1 s = 3600 kW
    assert progress.seq == 2 and progress.kw == 3600.0
    (ended,) = st.on_stop(tx, 6000, "2026-11-26T06:10:00Z", "EVDisconnected").events
    assert isinstance(ended, SupplyEnded)
    assert (ended.session_id, ended.kwh, ended.eur, ended.reason) == ("s1", 5.0, 2.0, "unplugged")
    assert st.on_stop(tx, 6000, None, None).events == []  # replayed: nothing ends twice


def test_an_open_transaction_survives_a_gateway_restart(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize())
    tx, _, _ = st.on_start("D-001", 0, None)
    again = station(tmp_path)  # a new process reads the book from disk
    (ended,) = again.on_stop(tx, 2500, None, "Local").events
    assert (ended.session_id, ended.driver_id, ended.kwh) == ("s1", "D-001", 2.5)
    assert station(tmp_path).on_stop(tx, 2500, None, None).events == []
    later, _, _ = station(tmp_path).on_start("D-002", 0, None)
    assert later > tx  # transaction ids never repeat


def test_a_start_nobody_authorized_is_refused(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize(driver="D-001"))
    _, accepted, out = st.on_start("D-666", 0, None)
    assert not accepted and out.events == []
    assert st.check_id_tag("D-001") is True and st.check_id_tag("D-666") is None


def test_busy_broken_or_stopped_cps_reject_authorizations(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize("s1"))
    (busy,) = st.on_authorize(authorize("s2", "D-002")).events
    assert isinstance(busy, AuthorizationRejected) and busy.reason == "charging point is busy"

    broken = station(tmp_path / "b")
    broken.on_status("Faulted", "GroundFailure")
    assert broken.health.health == EngineHealth.KO
    (refused,) = broken.on_authorize(authorize()).events
    assert refused.reason == "charging point broken"


def test_faulted_mid_supply_ends_it_with_the_last_reading(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize())
    tx, _, _ = st.on_start("D-001", 0, None)
    st.on_meter(tx, 1234, 11.0, now=1.0)
    (ended,) = st.on_status("Faulted", "OverCurrentFailure").events
    assert (ended.reason, ended.kwh) == ("fault", 1.234)
    assert st.on_stop(tx, 1300, None, "EmergencyStop").events == []


def test_stop_and_resume_become_ocpp_calls_once(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize())
    tx, _, _ = st.on_start("D-001", 0, None)
    out = st.on_admin(AdminState.STOPPED)
    assert out.calls == [RemoteStop(tx), ChangeAvailability(operative=False)]
    assert st.on_admin(AdminState.STOPPED).calls == []  # the heartbeat repeats it: no-op
    st.on_status("Unavailable")
    assert st.health.health == EngineHealth.OK  # asked for: STOPPED, not BROKEN
    assert st.on_admin(AdminState.ACTIVE).calls == [ChangeAvailability(operative=True)]


def test_an_unused_authorization_expires(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize(ttl=-1))
    (expired,) = st.tick().events
    assert isinstance(expired, AuthorizationExpired) and expired.session_id == "s1"
    assert st.pending is None and st.tick().events == []


def test_a_fault_or_a_stop_cancels_a_waiting_authorization(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize("s1"))
    (cancelled,) = st.on_status("Faulted", "GroundFailure").events
    assert isinstance(cancelled, AuthorizationRejected) and cancelled.reason == "engine fault"
    st.on_status("Available")
    st.on_authorize(authorize("s2"))
    out = st.on_admin(AdminState.STOPPED)
    assert [e.reason for e in out.events] == ["stopped"]
    assert out.calls == [ChangeAvailability(operative=False)]
    assert st.pending is None


def test_a_charger_back_without_its_transaction_ends_it_with_the_last_reading(
    tmp_path: Path,
) -> None:
    """Found by evc-chaos (seeds 3 and 7, docs/reliability.md): the gateway was killed
    mid-transaction; the charger came back booting, its connector Available, with no
    StopTransaction. The gateway restored the transaction from its book and kept it open for
    good: the session never ended, and every later authorization there was refused busy."""
    st = station(tmp_path)
    st.on_authorize(authorize())
    tx, _, _ = st.on_start("D-001", 1000, None)
    st.on_meter(tx, 1500, None, now=1.0)
    again = Station(CP, TransactionBook(tmp_path, CP), lost_grace=0.0)  # the gateway restarted
    assert again.on_status("Available").events == []  # its StopTransaction may still come
    (ended,) = again.tick().events
    assert isinstance(ended, SupplyEnded)
    assert (ended.session_id, ended.kwh, ended.reason) == ("s1", 0.5, "engine_restart")
    assert again.book.running() is None and again.tick().events == []
    again.on_authorize(authorize("s2"))
    assert again.pending is not None  # free again, not busy


def test_a_charger_still_charging_keeps_its_transaction(tmp_path: Path) -> None:
    st = Station(CP, TransactionBook(tmp_path, CP), lost_grace=0.0)
    st.on_authorize(authorize())
    tx, _, _ = st.on_start("D-001", 0, None)
    st.on_status("Available")  # e.g. after ChangeAvailability Operative, mid-transaction
    st.on_meter(tx, 500, None, now=1.0)  # the charger still meters it
    assert st.tick().events == [] and st.book.running() is not None
    st.on_status("Available")
    st.on_status("Charging")
    assert st.tick().events == [] and st.book.running() is not None
    st.on_status("Available")  # a late StopTransaction within the grace ends it as it says
    (ended,) = st.on_stop(tx, 700, None, "EVDisconnected").events
    assert isinstance(ended, SupplyEnded) and ended.kwh == 0.7
    assert st.tick().events == []
