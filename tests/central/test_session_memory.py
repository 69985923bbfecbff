"""Central's memory stays flat at steady load (issue 21, item 4): the core keeps only live and
recent sessions (``central_app.session_notes``) and asks the database, off the owner, about
older ones (``central_app.session_recall``), without billing twice, refusing a real session,
accepting a forged one or authorizing a request twice."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import update

from central_app import session_notes
from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.db import SessionRow, open_database
from central_app.db_writer import InlineWriter, Writer
from central_app.engine_events import ForeignSession
from central_app.hub import Hub, run_inline
from central_app.kafka_input import KafkaInput
from central_app.ledger import Ledger
from central_app.monitors import MonitorDesk, machine_from
from central_app.session_notes import FINAL_KEPT
from central_app.store import DEFAULT_SEED, Store
from central_app.supplies import SupplyDesk
from tests.central.test_supplies import (
    Clock,
    Outbox,
    authorize,
    online,
    progress,
    request,
    start_supply,
    supply_ended,
)
from wire.kafka.consumer import Received
from wire.kafka.messages import Authorize, Event, SupplyEnded, Ticket
from wire.kafka.topics import Topics
from wire.tcp_messages import EngineHealth, Heartbeat
from wire.timefmt import format_ts, utc_now


class ManualWriter:
    """A database writer whose jobs run only when the test says (``run``): what the owner
    does before the database answered is visible."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] = []

    def submit(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.append((job, args, future))
        return future

    def barrier(self) -> Future[None]:
        return self.submit(lambda: None)

    @property
    def backlog(self) -> int:
        return len(self.jobs)

    def run(self) -> None:
        while self.jobs:
            job, args, future = self.jobs.pop(0)
            try:
                future.set_result(job(*args))
            except Exception as exc:
                future.set_exception(exc)


class World(NamedTuple):
    hub: Hub
    desk: SupplyDesk
    monitors: MonitorDesk
    outbox: Outbox
    topics: Topics
    clock: Clock
    store: Store
    ledger: Ledger


def make_world(
    store: Store,
    writer: Writer | None = None,
    post: Callable[[Callable[[], None]], None] = run_inline,
) -> World:
    """Central's core over ``store`` (a start: ``ledger.load``) with a clock of its own."""
    outbox, topics, clock = Outbox(), Topics("x."), Clock()
    ledger = Ledger(store, writer or InlineWriter(), clock=clock)
    records, _ = ledger.load()
    hub = Hub(ledger, outbox, topics, clock=clock, post=post)
    for record in records:
        hub.cps[record.cp_id] = machine_from(record)
    desk = SupplyDesk(
        hub,
        policy=AuthorizationPolicy(authorization_ttl=30),
        billing=Billing(ledger, grace=10),
        clock=clock,
    )
    return World(
        hub, desk, MonitorDesk(hub, desk, clock=clock), outbox, topics, clock, store, ledger
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(open_database(f"sqlite:///{tmp_path / 'c.db'}"))
    store.seed(DEFAULT_SEED)
    return store


def sent(w: World, kind: type[Event]) -> list[Any]:
    return [e for _, _, e in w.outbox.sent if isinstance(e, kind)]


def age_rows(store: Store, days: float) -> None:
    """Every session row as if written ``days`` ago (what a restart then loads, or not)."""
    then = format_ts(utc_now() - timedelta(days=days))
    with store.db.engine.begin() as conn:
        conn.execute(
            update(SessionRow).values(authorized_at=then, ticketed_at=then, started_at=then)
        )


def test_ended_sessions_are_forgotten_so_memory_stays_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_notes, "FINAL_KEPT", 20.0)
    w = make_world(store)
    online(w.monitors, "CP-01")
    online(w.monitors, "CP-02")
    w.desk.charge_request(request("open", driver="D-002", cp="CP-02"))  # stays authorized
    (open_auth,) = sent(w, Authorize)
    for i in range(120):  # one supply a second: six times the window
        auth = start_supply(w.desk, w.outbox, w.topics, f"r{i}")
        w.desk.cp_event(supply_ended(auth.session_id, 1.0))
        w.clock.now += 1.0
    assert len(sent(w, Ticket)) == 120
    notes = w.ledger.notes
    assert len(notes) <= 22, len(notes)  # the last 20 s of sessions and the open one
    assert notes.request_count <= 22
    assert w.ledger.session_info(open_auth.session_id) is not None  # open: kept, however old
    assert w.ledger.request_seen("r119") and not w.ledger.request_seen("r0")


def test_a_late_supply_ended_of_a_forgotten_session_is_billed_once_by_the_database(
    store: Store,
) -> None:
    w = make_world(store)
    online(w.monitors, "CP-01")
    auth = start_supply(w.desk, w.outbox, w.topics)
    end = supply_ended(auth.session_id, 2.5)
    w.desk.cp_event(end)
    w.clock.now += FINAL_KEPT + 1
    w.ledger.notes.expire()
    assert w.ledger.session_info(auth.session_id) is None  # forgotten
    w.desk.cp_event(end)  # replayed long after: not refused, not billed again
    assert len(store.tickets(auth.session_id)) == 1
    assert len(sent(w, Ticket)) == 1
    assert w.ledger.session_info(auth.session_id) is not None  # recalled for a while
    # after a restart days later (what memory loads at start is only the recent ones)
    age_rows(store, 2)
    again = make_world(store)
    assert again.ledger.session_info(auth.session_id) is None
    again.desk.cp_event(end)
    assert len(store.tickets(auth.session_id)) == 1
    assert sent(again, Ticket) == []


def test_an_inferred_ticket_is_amended_from_the_database_after_a_restart(store: Store) -> None:
    w = make_world(store)
    conn = online(w.monitors, "CP-01")
    auth = start_supply(w.desk, w.outbox, w.topics)
    w.desk.cp_event(progress(auth.session_id, 3, 1.0))
    w.monitors.handle(conn, Heartbeat("CP-01", EngineHealth.KO))  # the engine fails
    w.desk.tick(w.clock.now + 11)  # no final reading in time: Central infers the ticket
    (inferred,) = store.tickets(auth.session_id)
    assert inferred.kwh == 1.0
    age_rows(store, 2)  # older than any note is kept
    again = make_world(store)
    assert again.ledger.session_info(auth.session_id) is None
    again.desk.cp_event(supply_ended(auth.session_id, 1.4, reason="engine_failure"))
    (amended,) = store.tickets(auth.session_id)
    assert amended.kwh == 1.4
    (notice,) = sent(again, Ticket)
    assert (notice.kwh, notice.was_kwh) == (1.4, 1.0)
    again.desk.cp_event(supply_ended(auth.session_id, 1.9, reason="engine_failure"))
    assert store.tickets(auth.session_id)[0].kwh == 1.4  # amended once
    assert len(sent(again, Ticket)) == 1


def test_an_event_for_a_session_never_authorized_is_refused_after_asking_the_database(
    store: Store,
) -> None:
    writer, posted = ManualWriter(), []
    w = make_world(store, writer, posted.append)
    refused: list[ForeignSession] = []
    forged = SupplyEnded(
        session_id="f" * 32,
        cp_id="CP-01",
        driver_id="D-001",
        kwh=50.0,
        eur=0.0,
        started_at="t0",
        ended_at="t1",
        reason="unplugged",
    )
    w.desk.cp_event(forged, refused.append)  # returns at once: the owner never waits
    assert refused == [] and not w.desk.settled().done()
    writer.run()  # the database answers on the writer's thread...
    assert refused == [] and posted  # ...and the owner continues when it gets to it
    while posted:
        posted.pop(0)()
    assert [str(r) for r in refused] == [
        f"supply_ended for session {'f' * 8}…, which Central never authorized"
    ]
    assert w.desk.settled().done()
    writer.run()
    assert store.tickets(forged.session_id) == [] and sent(w, Ticket) == []
    # and answered at once (unit tests' writer), it is raised as before
    inline = make_world(store)
    with pytest.raises(ForeignSession, match="never authorized"):
        inline.desk.cp_event(forged)


def test_an_event_whose_look_up_fails_is_left_for_the_next_start(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, posted = ManualWriter(), []
    w = make_world(store, writer, posted.append)
    refused: list[ForeignSession] = []

    def broken(session_id: str) -> None:
        raise RuntimeError("Central is stopping")

    monkeypatch.setattr(w.ledger, "_read_note", broken)
    w.desk.cp_event(supply_ended("d" * 32, 1.0), refused.append)
    writer.run()
    while posted:
        posted.pop(0)()
    assert refused == [] and store.tickets("d" * 32) == []  # neither refused nor billed
    assert not w.desk.settled().done()  # its batch is not marked done: read again
    assert w.desk.engine_events.recall.waiting == 0


class FakeOwner:
    def in_chunks(self, batch: list[Received], handle: Callable[[list[Received]], Any]) -> Any:
        return handle(batch)


class FakeLink:
    dropped = 0

    def __init__(self) -> None:
        self.refused: list[str] = []

    def refuse(self, received: Received, value: bytes | None, refusal: Any) -> None:
        self.refused.append(refusal.reason)


class FakePair:
    leadership = None


def test_a_batch_waiting_for_the_database_is_durable_only_once_its_events_are_handled(
    store: Store,
) -> None:
    writer, posted = ManualWriter(), []
    w = make_world(store, writer, posted.append)
    link = FakeLink()
    kafka = KafkaInput(FakeOwner(), w.desk, link, writer, FakePair())  # type: ignore[arg-type]
    end = supply_ended("e" * 32, 1.0)
    handled = kafka.on_kafka([Received("evc.cp.events", 0, 7, "CP-01", end)])
    assert handled.failures == [] and handled.durable is not None
    writer.run()
    assert not handled.durable.done() and link.refused == []  # answered, not handled yet
    while posted:
        posted.pop(0)()
    assert link.refused and "never authorized" in link.refused[0]  # dead-lettered, audited
    assert not handled.durable.done()  # what handling it wrote is not committed yet
    writer.run()
    assert handled.durable.done()


def test_a_redelivered_old_charge_request_is_not_authorized_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_world(store)
    online(w.monitors, "CP-01")
    first = request("r1")
    auth = authorize(w.desk, w.outbox, w.topics, "r1")
    w.desk.cp_event(supply_ended(auth.session_id, 1.0))
    w.clock.now += FINAL_KEPT + 1
    w.ledger.notes.expire()
    assert not w.ledger.request_seen("r1")  # forgotten, and yet:
    later = utc_now() + timedelta(seconds=FINAL_KEPT + 1)
    monkeypatch.setattr("central_app.supplies.utc_now", lambda: later)
    w.desk.charge_request(first)  # redelivered (Central restarted after a long outage)
    assert len(sent(w, Authorize)) == 1
    assert [e.reason for _, _, e in w.outbox.sent if e.TYPE == "denied"] == ["expired"]
    # a policy whose requests outlive what memory keeps would break that rule: refused
    with pytest.raises(ValueError, match="longer than ended sessions are kept"):
        SupplyDesk(
            w.hub,
            policy=AuthorizationPolicy(max_request_age=FINAL_KEPT),
            billing=Billing(w.ledger),
        )


def test_a_start_loads_open_recent_and_provisional_sessions_only(store: Store) -> None:
    w = make_world(store)
    conn = online(w.monitors, "CP-01")
    online(w.monitors, "CP-02")
    done = start_supply(w.desk, w.outbox, w.topics, "r1")
    w.desk.cp_event(supply_ended(done.session_id, 1.0))
    inferred = start_supply(w.desk, w.outbox, w.topics, "r2")
    w.monitors.handle(conn, Heartbeat("CP-01", EngineHealth.KO))
    w.desk.tick(w.clock.now + 11)
    w.desk.charge_request(request("r3", driver="D-002", cp="CP-02"))  # left open
    (_, _, open_auth) = sent(w, Authorize)
    age_rows(store, 0.5)  # half a day ago: past the window, within a provisional's
    again = make_world(store)
    assert again.ledger.session_info(done.session_id) is None
    assert again.ledger.session_info(inferred.session_id).provisional  # type: ignore[union-attr]
    assert again.ledger.session_info(open_auth.session_id).status == "authorized"  # type: ignore[union-attr]
    assert len(again.ledger.notes) == 2
