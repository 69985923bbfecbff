"""The pair's lock and fencing epoch on a real PostgreSQL (``central_app.leadership``)."""

from __future__ import annotations

import time

import pytest

from central_app.db import Fenced, open_database
from central_app.leadership import LEASE_S, Leadership, pair_capable
from central_app.store import Store
from tests.waiting import wait_for


def test_only_postgresql_decides_leadership() -> None:
    assert pair_capable("postgresql+psycopg://evc@db/evcharging")
    assert not pair_capable("sqlite:///c.db")
    assert not pair_capable("mysql+pymysql://evc@db/evcharging")


def test_one_holder_and_a_deposed_one_cannot_write(pg_url: str) -> None:
    first, second = Leadership(pg_url, "central-a"), Leadership(pg_url, "central-b")
    db_a, db_b = open_database(pg_url), open_database(pg_url)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()  # the lock is held
        assert first.take_office(db_a) == 1
        first.fence(db_a)
        store_a = Store(db_a)
        store_a.add_driver("D-100", who="central-a")  # the active writes

        first._drop()  # its lock session is gone (killed, or ended by the server)
        wait_for(second.try_acquire, 5, "the second Central to get the lock")
        assert second.take_office(db_b) == 2
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


def test_a_silent_holder_loses_the_lock_after_the_lease(pg_url: str) -> None:
    """A frozen active (SIGSTOP) keeps its socket open: the server's idle_session_timeout
    ends its session, which frees the lock; the frozen one notices on its next renewal."""
    frozen, standby = Leadership(pg_url, "central-a"), Leadership(pg_url, "central-b")
    try:
        assert frozen.try_acquire()
        silent_since = time.monotonic()
        wait_for(standby.try_acquire, LEASE_S + 5, "the lease to run out")
        assert time.monotonic() - silent_since >= LEASE_S - 0.5
        assert not frozen.renew() and not frozen.holds(time.monotonic())
    finally:
        frozen.close()
        standby.close()
