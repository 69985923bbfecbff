"""The supply desk and monitor desk wired to a real SQLite store and a recording outbox: the
whole Kafka-side logic, deterministic, without a broker or threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.db import open_database
from central_app.db_writer import InlineWriter
from central_app.hub import Hub
from central_app.ledger import Ledger
from central_app.monitors import MonitorDesk, machine_from
from central_app.store import DEFAULT_SEED, Store
from central_app.supplies import SupplyDesk
from central_app.timers import TICK
from central_app.views import RequestPhase
from central_app.watchdog import Watchdog
from tests.central.conftest import Recorder
from wire.kafka.messages import (
    AuthorizationExpired,
    AuthorizationRejected,
    Authorize,
    ChargeRequest,
    Event,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.kafka.topics import Topics
from wire.tcp_messages import Auth, EngineHealth, Fault, Heartbeat, Register
from wire.timefmt import format_ts, utc_now


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Event]] = []

    def send(
        self, topic: str, key: str, event: Event, on_delivered: Callable[[], None] | None = None
    ) -> None:
        self.sent.append((topic, key, event))

    def types(self, topic: str, key: str | None = None) -> list[str]:
        return [e.TYPE for t, k, e in self.sent if t == topic and (key is None or k == key)]


@dataclass
class FakeConn:
    peer: str = "127.0.0.1:1"
    cp_id: str | None = None
    last_valid_frame: float = 0.0
    closed: bool = False

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Store(open_database(f"sqlite:///{tmp_path / 'c.db'}"))
    store.seed(DEFAULT_SEED)
    outbox, topics, clock = Outbox(), Topics("x."), Clock()
    ledger = Ledger(store, InlineWriter())
    records, _ = ledger.load()
    hub = Hub(ledger, outbox, topics, clock=clock)
    recorder = Recorder()
    hub.add_listener(recorder)
    for record in records:
        hub.cps[record.cp_id] = machine_from(record)
    desk = SupplyDesk(
        hub,
        policy=AuthorizationPolicy(authorization_ttl=30),
        billing=Billing(store, grace=10),
        clock=clock,
    )
    monitors = MonitorDesk(hub, desk, clock=clock)
    return hub, desk, monitors, outbox, topics, clock, store


def online(monitors: MonitorDesk, cp_id: str) -> FakeConn:
    conn = FakeConn()
    reply = monitors.handle(conn, Register(cp_id, "", None, None))
    monitors.handle(conn, Auth(cp_id, reply.credential))  # type: ignore[attr-defined]
    monitors.handle(conn, Heartbeat(cp_id, EngineHealth.OK))
    return conn


def request(rid: str, driver: str = "D-001", cp: str = "CP-01", age: float = 0.0) -> ChargeRequest:
    return ChargeRequest(
        request_id=rid, driver_id=driver, cp_id=cp, ts=format_ts(utc_now() - timedelta(seconds=age))
    )


def authorize(desk: SupplyDesk, outbox: Outbox, topics: Topics, rid: str = "r1") -> Authorize:
    desk.charge_request(request(rid))
    return [e for t, _, e in outbox.sent if t == topics.cp_commands and isinstance(e, Authorize)][
        -1
    ]


def started(session_id: str) -> SupplyStarted:
    """The engine's start of a supply at CP-01 for D-001."""
    return SupplyStarted(session_id=session_id, cp_id="CP-01", driver_id="D-001", started_at="t0")


def progress(
    session_id: str, seq: int, kwh: float, *, kw: float = 7.0, eur: float = 0.0
) -> SupplyProgress:
    """The engine's reading number ``seq`` of a supply at CP-01 for D-001."""
    return SupplyProgress(
        session_id=session_id, cp_id="CP-01", driver_id="D-001", seq=seq, kw=kw, kwh=kwh, eur=eur
    )


def start_supply(desk: SupplyDesk, outbox: Outbox, topics: Topics, rid: str = "r1") -> Authorize:
    """A request authorized at CP-01 for D-001, and the engine's supply_started."""
    auth = authorize(desk, outbox, topics, rid)
    desk.cp_event(started(auth.session_id))
    return auth


def supply_ended(
    session_id: str,
    kwh: float,
    *,
    eur: float = 0.0,
    ended_at: str = "t1",
    reason: str = "unplugged",
) -> SupplyEnded:
    """The engine's end of a supply at CP-01 for D-001 (unplugged unless said)."""
    return SupplyEnded(
        session_id=session_id,
        cp_id="CP-01",
        driver_id="D-001",
        kwh=kwh,
        eur=eur,
        started_at="t0",
        ended_at=ended_at,
        reason=reason,
    )


def test_request_flow_and_duplicate_request_ignored(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    auth = authorize(desk, outbox, topics)
    assert auth.price == 0.42 and auth.driver_id == "D-001"
    assert outbox.types(topics.driver_notices, "D-001") == ["request_received", "authorized"]
    before = len(outbox.sent)
    desk.charge_request(request("r1"))  # redelivered after a crash
    assert len(outbox.sent) == before


def test_second_request_for_busy_cp_and_busy_driver(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    online(monitors, "CP-02")
    authorize(desk, outbox, topics)
    desk.charge_request(request("r2", driver="D-002"))
    desk.charge_request(request("r3", driver="D-001", cp="CP-02"))
    desk.charge_request(request("r4", driver="D-999", cp="CP-02"))
    desk.charge_request(request("r5", driver="D-002", cp="CP-02", age=11))
    reasons = [e.reason for _, _, e in outbox.sent if e.TYPE == "denied"]
    assert reasons == ["cp_busy", "driver_busy", "unknown_driver", "expired"]


def test_supply_ticketed_once_and_cp_state_never_names_the_driver(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    auth = start_supply(desk, outbox, topics)
    desk.cp_event(started(auth.session_id))  # again: a duplicate
    desk.cp_event(progress(auth.session_id, 0, 1, eur=0.42))
    ended = supply_ended(auth.session_id, 2.5, eur=99.0)
    desk.cp_event(ended)
    desk.cp_event(ended)
    assert outbox.types(topics.driver_notices).count("supply_started") == 1
    assert outbox.types(topics.driver_notices).count("ticket") == 1
    (ticket,) = store.tickets(auth.session_id)
    assert ticket.eur == round(2.5 * 0.42, 2)  # Central's price, not the engine's 99
    states = [e for t, _, e in outbox.sent if t == topics.network_state and e.cp_id == "CP-01"]
    assert [s.status for s in states][-2:] == ["SUPPLYING", "ACTIVE"]
    assert all("D-001" not in s.to_json().decode() for s in states)


def test_live_kw_and_eur_reach_the_network_topic_at_most_every_few_seconds(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    auth = start_supply(desk, outbox, topics)

    def states() -> list[tuple[str, float, float]]:
        sent = [e for t, k, e in outbox.sent if t == topics.network_state and k == "CP-01"]
        return [(e.status, e.kw, e.eur) for e in sent]  # type: ignore[attr-defined]

    assert states()[-1] == ("SUPPLYING", 0.0, 0.0)  # a status change goes out at once
    before = len(states())
    for seq in range(1, 5):
        clock.now += 1.0
        desk.cp_event(progress(auth.session_id, seq, seq * 0.5, eur=round(seq * 0.5 * 0.42, 2)))
        hub.flush_live()
    assert len(states()) == before  # 4 s of kW/€ alone: held
    assert outbox.types(topics.driver_notices, "D-001").count("supply_progress") == 4
    clock.now += 1.0
    hub.flush_live()
    assert states()[before:] == [("SUPPLYING", 7.0, 0.84)]  # the latest figures, once
    hub.flush_live()
    assert len(states()) == before + 1
    clock.now += 1.0
    desk.cp_event(supply_ended(auth.session_id, 2.5, eur=1.05))
    assert states()[-1] == ("ACTIVE", 0.0, 0.0)  # the end is not held behind the turn
    clock.now += 10.0
    hub.flush_live()
    assert states()[-1] == ("ACTIVE", 0.0, 0.0)  # no stale SUPPLYING figure after it


def test_engine_expiry_rejection_and_centrals_own_expiry(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    auth = authorize(desk, outbox, topics, "r1")
    desk.cp_event(AuthorizationExpired(session_id=auth.session_id, cp_id="CP-01"))
    assert hub.cps["CP-01"].available
    auth = authorize(desk, outbox, topics, "r2")
    desk.cp_event(AuthorizationRejected(session_id=auth.session_id, cp_id="CP-01", reason="no car"))
    auth = authorize(desk, outbox, topics, "r3")
    hub.cps["CP-01"].session.expires_at = format_ts(utc_now() - timedelta(seconds=10))  # type: ignore[union-attr]
    desk.tick(clock.now)
    denied = [e.reason for _, _, e in outbox.sent if e.TYPE == "denied"]
    assert denied == [
        "authorization_expired",
        "authorization_rejected: no car",
        "authorization_expired",
    ]
    assert hub.cps["CP-01"].available


def test_fault_mid_supply_waits_for_the_engine_then_falls_back(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = online(monitors, "CP-01")
    auth = start_supply(desk, outbox, topics)
    desk.cp_event(progress(auth.session_id, 4, 1.2))
    monitors.handle(conn, Heartbeat("CP-01", EngineHealth.KO))
    assert hub.cps["CP-01"].status.value == "BROKEN"
    desk.tick(clock.now + 1.9)
    assert "supply_interrupted" not in outbox.types(topics.driver_notices)  # final reading?
    desk.tick(clock.now + 2.0)  # none came (a dead engine): the last known one
    interrupted = [e for _, _, e in outbox.sent if e.TYPE == "supply_interrupted"]
    assert [(e.reason, e.kwh) for e in interrupted] == [("fault", 1.2)]
    desk.tick(clock.now + 5)
    assert "ticket" not in outbox.types(topics.driver_notices)
    clock.now += 11
    desk.tick(clock.now)
    (ticket,) = store.tickets(auth.session_id)
    assert (ticket.kwh, ticket.reason) == (1.2, "fault")
    assert outbox.types(topics.driver_notices)[-2:] == ["supply_interrupted", "ticket"]


@pytest.mark.parametrize("first", ["monitor FAULT", "engine supply_ended"])
def test_a_technicians_ko_reaches_the_driver_as_interrupted_with_the_final_energy(
    world,  # type: ignore[no-untyped-def]
    first: str,
) -> None:
    """The engine's supply_ended(fault) on Kafka and the monitor's FAULT on TCP race: in
    either order the driver gets supply_interrupted (fault), then the ticket, both with the
    engine's final reading (not 0 or the last progress)."""
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = online(monitors, "CP-01")
    auth = authorize(desk, outbox, topics)
    sid = auth.session_id
    desk.cp_event(started(sid))
    desk.cp_event(progress(sid, 3, 1))
    told = len(outbox.sent)
    ended = supply_ended(sid, 1.3, eur=0.55, reason="fault")
    fault = Fault("CP-01", "engine KO: technician")
    if first == "monitor FAULT":
        monitors.handle(conn, fault)
        clock.now += 0.5  # the engine's reading is a moment behind
        desk.tick(clock.now)
        desk.cp_event(ended)
    else:
        desk.cp_event(ended)
        monitors.handle(conn, fault)
    clock.now += 20
    desk.tick(clock.now)  # nothing more is due: no second notice, no fallback ticket
    notices = [e for t, _, e in outbox.sent[told:] if t == topics.driver_notices]
    assert [n.TYPE for n in notices] == ["supply_interrupted", "ticket"]
    interrupted, ticket = notices
    assert interrupted.reason == ticket.reason == "fault"
    assert (interrupted.kwh, interrupted.eur) == (ticket.kwh, ticket.eur) == (1.3, 0.55)
    assert hub.cps["CP-01"].status.value == "BROKEN"


def test_watchdog_and_close(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = online(monitors, "CP-01")
    conn.last_valid_frame = clock.now
    monitors.watchdog(clock.now + 2.9)
    assert hub.cps["CP-01"].status.value == "ACTIVE"
    monitors.watchdog(clock.now + 3.1)
    assert hub.cps["CP-01"].status.value == "DISCONNECTED"
    monitors.handle(conn, Heartbeat("CP-01", EngineHealth.OK))
    assert hub.cps["CP-01"].status.value == "ACTIVE"
    monitors.connection_closed(conn)
    assert hub.cps["CP-01"].status.value == "DISCONNECTED"


# -- Central's own pauses (issue 21) --------------------------------------------------------


def heard(monitors: MonitorDesk, clock: Clock, *conns: FakeConn) -> None:
    """Heartbeats read off the sockets now (``wire`` sets ``last_valid_frame``)."""
    for conn in conns:
        conn.last_valid_frame = clock.now
        monitors.handle(conn, Heartbeat(conn.cp_id, EngineHealth.OK))  # type: ignore[arg-type]


def tick(watchdog: Watchdog, clock: Clock, seconds: float = TICK) -> None:
    """The owner's timer, ``seconds`` after its previous tick."""
    clock.now += seconds
    watchdog.tick(clock.now)


def test_central_stall_is_not_monitor_silence(world) -> None:  # type: ignore[no-untyped-def]
    """Central stood still 5 s mid-supply (its timer ticks 5 s late) while the heartbeats
    waited in the sockets: nobody is judged before they are read, the supply goes on, and a
    monitor that died during the freeze still turns DISCONNECTED within 3 s of the thaw."""
    hub, desk, monitors, outbox, topics, clock, store = world
    said = Recorder()
    hub.add_listener(said)
    watchdog = Watchdog(hub, monitors, desk, period=TICK)
    live, dead = online(monitors, "CP-01"), online(monitors, "CP-02")
    start_supply(desk, outbox, topics)
    for n in range(8):  # 2 s running normally, a heartbeat a second from each
        if n % 4 == 0:
            heard(monitors, clock, live, dead)
        tick(watchdog, clock)
    tick(watchdog, clock, TICK + 5.0)  # the first tick after SIGCONT: no socket read yet
    thawed = clock.now
    assert hub.cps["CP-01"].status.value == "SUPPLYING"
    assert hub.cps["CP-02"].status.value == "ACTIVE"
    lost_after = None
    for n in range(16):  # 4 s: the live monitor's waiting heartbeat is read, then one a second
        if n % 4 == 0:
            heard(monitors, clock, live)
        tick(watchdog, clock)
        if lost_after is None and hub.cps["CP-02"].status.value == "DISCONNECTED":
            lost_after = clock.now - thawed
    assert hub.cps["CP-01"].status.value == "SUPPLYING"
    assert "supply_interrupted" not in outbox.types(topics.driver_notices)
    assert lost_after is not None and lost_after <= 3.0, lost_after
    paused = [e.text for e in said.logs if "paused" in e.text]
    assert paused == [
        "Central was paused for 5.0 s (the process did not run): giving monitors and engines "
        "time to be heard before judging their silence"
    ]


def test_central_stall_is_not_the_engines_silence(world) -> None:  # type: ignore[no-untyped-def]
    """The engines' reports wait in Kafka while Central stands still: neither an interrupted
    supply's grace (10 s here) nor Central's own authorization expiry counts that time."""
    hub, desk, monitors, outbox, topics, clock, store = world
    watchdog = Watchdog(hub, monitors, desk, period=TICK)
    first, second = online(monitors, "CP-01"), online(monitors, "CP-02")
    heard(monitors, clock, first, second)
    auth = authorize(desk, outbox, topics)
    sid = auth.session_id
    desk.cp_event(started(sid))
    desk.cp_event(progress(sid, 2, 1))
    monitors.handle(first, Fault("CP-01", "engine KO"))  # waits for the engine's reading
    desk.charge_request(request("r2", driver="D-002", cp="CP-02"))
    other = hub.cps["CP-02"].session
    assert other is not None
    tick(watchdog, clock)
    # frozen 12 s: past the grace, and past Central's own expiry (5 s after expires_at)
    other.expires_at = format_ts(utc_now() - timedelta(seconds=5.5))
    tick(watchdog, clock, TICK + 12.0)
    heard(monitors, clock, first, second)
    tick(watchdog, clock)
    tick(watchdog, clock)
    # the backlog read from Kafka after the thaw: the engines' own reports still count
    desk.cp_event(supply_ended(sid, 1.4, eur=0.59, reason="fault"))
    desk.cp_event(
        SupplyStarted(
            session_id=other.session_id, cp_id="CP-02", driver_id="D-002", started_at="t2"
        )
    )
    tick(watchdog, clock)
    (ticket,) = store.tickets(sid)
    assert (ticket.kwh, ticket.reason) == (1.4, "fault")  # the engine's, not the fallback 1.0
    told = [e for t, k, e in outbox.sent if t == topics.driver_notices and k == "D-001"]
    assert [(e.TYPE, getattr(e, "kwh", None)) for e in told][-2:] == [
        ("supply_interrupted", 1.4),
        ("ticket", 1.4),
    ]
    assert "denied" not in outbox.types(topics.driver_notices, "D-002")
    assert hub.cps["CP-02"].status.value == "SUPPLYING"


def test_a_ticket_inferred_by_central_is_amended_by_the_engines_late_final_reading(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: the broker down, Central frozen, the engine ends the supply (0.369 kWh) and
    queues its supply_ended; Central's grace runs out and it tickets its last reading
    (0.123 kWh, monitor_lost); then the engine's reading arrives. It used to be dropped as a
    duplicate (the driver billed a third of what was delivered); now it amends the ticket,
    the driver is sent the corrected one, the audit says so, and only once."""
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = online(monitors, "CP-01")
    auth = start_supply(desk, outbox, topics)
    sid = auth.session_id
    desk.cp_event(progress(sid, 2, 0.123, kw=22))
    monitors.connection_closed(conn)  # what Central saw after its freeze
    clock.now += desk.billing.grace + 1
    desk.tick(clock.now)
    (provisional,) = store.tickets(sid)
    assert (provisional.kwh, provisional.reason) == (0.123, "monitor_lost")
    final = supply_ended(sid, 0.369, eur=0.15, ended_at="t9")
    desk.cp_event(final)
    desk.cp_event(final)  # redelivered: nothing more
    (amended,) = store.tickets(sid)
    assert (amended.kwh, amended.eur, amended.reason) == (
        0.369,
        round(0.369 * auth.price, 2),
        "unplugged",
    )
    tickets = [e for t, _, e in outbox.sent if t == topics.driver_notices and e.TYPE == "ticket"]
    assert [(t.kwh, t.was_kwh) for t in tickets] == [(0.123, None), (0.369, 0.123)]  # type: ignore[attr-defined]
    audited = [d for _, _, a, d in store.audit_entries(10) if a == "ticket_amended"]
    assert len(audited) == 1 and "0.123 kWh" in audited[0] and "0.369 kWh" in audited[0]
    from central_app.history import History

    (record,) = History(store.db).sessions()  # what evc-admin sessions lists
    assert record.kwh == 0.369 and record.amended_from == "0.123 kWh, 0.05 EUR (monitor_lost)"
    # a final ticket (the engine's own) is never amended again
    desk.cp_event(replace(final, kwh=5.0))
    assert store.tickets(sid)[0].kwh == 0.369


def test_an_implausible_late_reading_does_not_amend_an_inferred_ticket(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = online(monitors, "CP-01")
    hub.cps["CP-01"].rated_kw = 22.0
    sid = start_supply(desk, outbox, topics).session_id
    monitors.connection_closed(conn)
    clock.now += desk.billing.grace + 1
    desk.tick(clock.now)
    desk.cp_event(supply_ended(sid, 9999.0, eur=1.0, ended_at="t9"))
    (ticket,) = store.tickets(sid)
    assert ticket.kwh == 0.0 and ticket.reason == "monitor_lost"
    assert any(a == "implausible_energy" for _, _, a, _ in store.audit_entries(10))


def test_a_session_the_database_refuses_is_denied_as_an_internal_error(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    refused: Future[None] = Future()
    refused.set_exception(RuntimeError("the row could not be written"))
    monkeypatch.setattr(hub.ledger, "create_session", lambda **_: refused)
    desk.charge_request(request("r1"))
    denied = [e for t, _, e in outbox.sent if t == topics.driver_notices and e.TYPE == "denied"]
    assert [(e.request_id, e.cp_id, e.driver_id, e.reason) for e in denied] == [
        ("r1", "CP-01", "D-001", "internal_error")
    ]
    assert "authorize" not in outbox.types(topics.cp_commands)
    shown = hub.requests["r1"]
    assert (shown.phase, shown.detail) == (RequestPhase.DENIED, "internal error")
    assert hub.cps["CP-01"].session is None  # the CP is free again
    assert hub.counts.requests["internal_error"] == 1
