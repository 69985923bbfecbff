"""The pair's lock and fencing epoch on a real PostgreSQL and a real MariaDB
(``central_app.leadership``): each test on both (``server_url``)."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import make_url, text

from central_app.db import Fenced, open_database
from central_app.leadership import LEASE_S, Leadership, lock_name, pair_capable
from central_app.sealing import Sealer
from central_app.store import Store
from cp_core.command_guard import ReplayWindow
from tests.waiting import wait_for
from wire.kafka.messages import Stop


def test_postgresql_and_mariadb_decide_leadership() -> None:
    assert pair_capable("postgresql+psycopg://evc@db/evcharging")
    assert pair_capable("mysql://evc:secret@db/evcharging")  # the brief's form
    assert pair_capable("mariadb://evc@db/evcharging")
    assert pair_capable("mysql+pymysql://evc@db/evcharging")
    assert not pair_capable("sqlite:///c.db")
    assert not pair_capable("nonsense")


def test_mariadb_lock_names_are_one_per_database() -> None:
    assert lock_name("evcharging") == "evc.pair.evcharging"
    long_a, long_b = lock_name("a" * 64), lock_name("a" * 63 + "b")
    assert len(long_a) <= 64 and len(long_b) <= 64 and long_a != long_b


def test_pairs_on_two_databases_of_one_mariadb_have_a_lock_each(maria_server) -> None:  # type: ignore[no-untyped-def]
    """GET_LOCK's names are the server's: each database's pair has its own."""
    with maria_server.database() as one, maria_server.database() as two:
        first, second = Leadership(one, "central-a"), Leadership(two, "central-b")
        try:
            assert first.try_acquire() and second.try_acquire()
        finally:
            first.close()
            second.close()


def test_on_mariadb_a_renewal_asks_whether_the_lock_is_still_the_sessions(maria_url: str) -> None:
    holder = Leadership(maria_url, "central-a")
    try:
        assert holder.try_acquire() and holder.renew()
        name = lock_name(make_url(maria_url).database)
        holder._conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        assert not holder.renew() and not holder.holds(time.monotonic())
    finally:
        holder.close()


def test_one_holder_and_a_deposed_one_cannot_write(server_url: str) -> None:
    first, second = Leadership(server_url, "central-a"), Leadership(server_url, "central-b")
    db_a, db_b = open_database(server_url), open_database(server_url)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()  # the lock is held
        epoch = first.take_office(db_a)
        assert epoch >= 1
        first.fence(db_a)
        store_a = Store(db_a)
        store_a.add_driver("D-100", who="central-a")  # the active writes

        first._drop()  # its lock session is gone (killed, or ended by the server)
        wait_for(second.try_acquire, 5, "the second Central to get the lock")
        assert second.take_office(db_b) == epoch + 1
        second.fence(db_b)
        with pytest.raises(Fenced, match="deposed"):
            store_a.add_driver("D-101", who="central-a")  # the old active's queued write
        Store(db_b).add_driver("D-102", who="central-b")
        assert set(Store(db_b).list_drivers()) == {"D-100", "D-102"}
    finally:
        for held in (first, second):
            held.close()
        db_a.dispose()
        db_b.dispose()


def test_a_silent_holder_loses_the_lock_after_the_lease(server_url: str) -> None:
    """A frozen active (SIGSTOP) keeps its socket open: the server's idle_session_timeout
    (MariaDB: wait_timeout) ends its session, which frees the lock; the frozen one notices
    on its next renewal."""
    frozen, standby = Leadership(server_url, "central-a"), Leadership(server_url, "central-b")
    try:
        assert frozen.try_acquire()
        silent_since = time.monotonic()
        wait_for(standby.try_acquire, LEASE_S + 5, "the lease to run out")
        assert time.monotonic() - silent_since >= LEASE_S - 0.5
        assert not frozen.renew() and not frozen.holds(time.monotonic())
    finally:
        frozen.close()
        standby.close()


def test_command_seq_survives_a_failover_to_a_standby_whose_clock_is_behind(
    server_url: str,
) -> None:
    """Issue 19, defect 6: ``seq`` was the active's clock in µs; a standby whose clock is an
    hour behind would have numbered every command below what the engines accepted, and
    each would have been refused as a replay. Now the epoch of the pair's fencing row is
    the high part: the successor's commands are above, whatever its clock says."""
    active, standby = Leadership(server_url, "central-a"), Leadership(server_url, "central-b")
    db_a, db_b = open_database(server_url), open_database(server_url)
    try:
        assert active.try_acquire()
        sent_by_active = _sealer(time.time)
        sent_by_active.take_office(active.take_office(db_a))
        window = ReplayWindow()
        for _ in range(3):
            _obey(window, sent_by_active.next_seq())
        active._drop()
        wait_for(standby.try_acquire, 5, "the standby to get the lock")
        behind = _sealer(lambda: time.time() - 3600)  # its clock an hour in the past
        behind.take_office(standby.take_office(db_b))
        for _ in range(3):
            _obey(window, behind.next_seq())  # none refused as a replay
        # and a lone Central's restart on the same database numbers above both
        restarted = _sealer(lambda: 0.0)
        restarted.take_office(Store(db_b).take_epoch("central-c"))
        _obey(window, restarted.next_seq())
    finally:
        for held in (active, standby):
            held.close()
        db_a.dispose()
        db_b.dispose()


def _sealer(clock):  # type: ignore[no-untyped-def]
    return Sealer(
        prefix="", keys=None, cp_commands="evc.cp.commands", driver_notices="n", clock=clock
    )


def _obey(window: ReplayWindow, seq: int) -> None:
    stop = Stop(cp_id="CP-01", seq=seq)
    refusal = window.check(stop)
    assert refusal is None, refusal
    window.accept(stop)


def test_a_database_restart_during_the_epoch_check_is_an_outage_the_writer_retries() -> None:
    """Found by evc-chaos (seed 2026, 60 min): PostgreSQL restarted at the moment of a
    commit. The fence's epoch check runs in SQLAlchemy's commit hook, where the driver's
    AdminShutdown came out unwrapped: the database writer took it for a bug and failed the
    job (a traceback in Central's log) instead of retrying it once the server was back."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from central_app.db_writer import transient

    leadership = Leadership("postgresql+psycopg://evc@127.0.0.1:1/evcharging", "central-a")

    class Cursor:
        def execute(self, sql: str) -> None:
            raise psycopg.errors.AdminShutdown(
                "terminating connection due to administrator command"
            )

        def close(self) -> None:
            pass

    # psycopg marks the connection of a session the server ended as broken
    dbapi_connection = SimpleNamespace(cursor=Cursor, closed=False, broken=True)
    invalidated: list[BaseException | None] = []
    conn = SimpleNamespace(
        dialect=leadership._engine.dialect,
        connection=SimpleNamespace(dbapi_connection=dbapi_connection),
        invalidate=invalidated.append,
    )
    with pytest.raises(OperationalError) as raised:
        leadership._check_epoch(conn)
    assert isinstance(raised.value.orig, psycopg.errors.AdminShutdown)
    assert transient(raised.value)
    assert raised.value.connection_invalidated and len(invalidated) == 1


def test_a_central_frozen_between_taking_the_lock_and_office_does_not_depose_its_successor(
    server_url: str,
) -> None:
    """Finding 11 (seed 2026, t=1777 s): central-a took the lock and was frozen (SIGSTOP)
    before it took office; its lease ran out and central-b took the lock and office. Thawed,
    central-a bumped the epoch all the same: central-b, holding the lock, had every write
    fenced for 29 s, and central-a, serving for half a second, published every CP
    DISCONNECTED over central-b's live states. A Central takes office only while its lock
    session still holds the lock, asked of the server in the bump's own transaction (not of
    the renewal thread, which may not have noticed yet)."""
    frozen, successor = Leadership(server_url, "central-a"), Leadership(server_url, "central-b")
    db_a, db_b = open_database(server_url), open_database(server_url)
    try:
        assert frozen.try_acquire()
        # frozen: no renewal, so the server ends its lock session after the lease
        wait_for(successor.try_acquire, LEASE_S + 5, "the lease to run out")
        epoch = successor.take_office(db_b)
        successor.fence(db_b)

        with pytest.raises(Fenced, match="no longer holds the pair's lock"):
            frozen.take_office(db_a)  # thawed: its renewal has not noticed yet
        with db_b.engine.connect() as conn:
            assert conn.execute(text("SELECT epoch FROM central_leader")).scalar() == epoch
        Store(db_b).add_driver("D-200", who="central-b")  # the successor still writes
        assert Store(db_b).list_drivers() == ["D-200"]
    finally:
        for held in (frozen, successor):
            held.close()
        db_a.dispose()
        db_b.dispose()


def test_a_connection_lost_at_the_epoch_check_is_discarded_without_a_traceback(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by evc-chaos (seed 2026, 60 min; the rest of finding 8): after a PostgreSQL
    restart at the moment of a commit, SQLAlchemy's pool logged "Exception during reset or
    similar" with a traceback: the epoch check's error bypassed SQLAlchemy's disconnect
    handling, so the pool tried to roll back the dead connection on its return. The lost
    connection is now invalidated where it is found: an outage the writer retries, one
    warning line, and the pool's next connection is a fresh one."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from central_app.db_writer import transient

    db = open_database(pg_url)
    admin = create_engine(pg_url, poolclass=NullPool)
    leadership = Leadership(pg_url, "central-a")
    try:
        assert leadership.try_acquire()  # office only with the pair's lock (finding 11)
        leadership.take_office(db)
        leadership.fence(db)
        caplog.set_level(logging.DEBUG)
        with pytest.raises(Exception) as raised, db.engine.begin() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:  # the server ends the session, as a restart does
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert transient(raised.value), raised.value
        traced = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
        assert traced == [], [r.getMessage() for r in traced]
        assert not any("Exception during reset" in r.getMessage() for r in caplog.records)
        with db.engine.begin() as conn:  # the pool recovers: a fresh connection
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        leadership.close()
        admin.dispose()
        db.dispose()


def test_a_fenced_write_deposes_a_central_whose_lock_session_lives_on(server_url: str) -> None:
    """Found while analysing finding 11: a Central whose writes were fenced (another one had
    raised the epoch) still held its lock session, so its renewals went on succeeding and it
    served on for 29 s, every write refused and said only at INFO. A fenced write now
    forfeits the leadership: the owner's next tick steps down, whatever the renewals say."""
    from central_app.db_writer import DbWriter

    holder = Leadership(server_url, "central-a")
    db, other = open_database(server_url), open_database(server_url)
    writer = DbWriter(on_fenced=holder.forfeit)
    try:
        assert holder.try_acquire()
        holder.take_office(db)
        holder.fence(db)
        Store(other).take_epoch("central-b")  # another Central took office behind its back
        with pytest.raises(Fenced):
            writer.submit(Store(db).add_driver, "D-300", "central-a").result(10)
        assert holder.renew()  # its lock session is alive and still holds the lock
        assert not holder.holds(time.monotonic())
    finally:
        writer.stop()
        holder.close()
        db.dispose()
        other.dispose()
