"""A database outage mid-supply: Central keeps serving its monitors, pauses its Kafka
consumption instead of dead-lettering, and writes the ticket exactly once when the database
returns (issue: "Central at fleet scale", one owner of Central's state).

The outage is real: another process-level SQLite connection holds an EXCLUSIVE transaction,
so every write of Central fails with "database is locked" for the whole outage, as it would
with a database server that stopped answering. It lasts ``EVC_DB_OUTAGE_S`` (50 s unless
set): longer than the Kafka consumer group's session time-out (librdkafka's 45 s), which
the paused consumer must outlive, and than anything Central used to wait before giving up.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from central_app.runtime import CentralRuntime
from tests.central.conftest import Recorder, status_of, supplying
from tests.central.scripted import scripted_cp
from tests.waiting import wait_for
from wire.kafka.consumer import EventConsumer
from wire.kafka.messages import DEAD_LETTER, Ticket
from wire.kafka.topics import Topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S = float(os.environ.get("EVC_DB_OUTAGE_S", "50"))


def dead_letters(kafka: str, topics: Topics) -> list[object]:
    consumer = EventConsumer(
        kafka,
        group_id=f"{topics.prefix}dl-reader-{time.monotonic_ns()}",
        codecs={topics.dead_letter: DEAD_LETTER},
        dead_letter_topic=None,
    )
    seen: list[object] = []
    try:
        consumer.subscribe()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not consumer.caught_up:
            consumer.poll(lambda r: seen.append(r.event), timeout=0.5)
    finally:
        consumer.close()
    return seen


@pytest.mark.timeout(int(OUTAGE_S) + 150)
def test_database_outage_mid_supply_pauses_and_tickets_once(
    running: CentralRuntime,
    kafka_bootstrap: str,
    topics: Topics,
    recorder: Recorder,
    tmp_path: Path,
) -> None:
    lock: sqlite3.Connection | None = None
    with scripted_cp(running.port, kafka_bootstrap, topics, "CP-07", "D-001") as cp:
        monitor, engine, driver = cp
        try:
            auth, started_at = supplying(running, recorder, cp, "req-db", 0.4)

            lock = sqlite3.connect(tmp_path / "central.db", timeout=5, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            outage_end = time.monotonic() + OUTAGE_S
            engine.ended(auth.session_id, "D-001", 0.8, auth.price, started_at, "unplugged")
            wait_for(
                lambda: any("database unavailable" in e.text for e in recorder.logs),
                40,
                "Central saying the database is unavailable",
            )
            # Throughout the outage the monitor's heartbeats are answered and no ticket leaves.
            while time.monotonic() < outage_end:
                answered = len(monitor.alive)
                wait_for(
                    lambda n=answered: len(monitor.alive) > n,
                    5,
                    "a heartbeat answered in the outage",
                )
                driver.poll()
                assert "ticket" not in driver.types(), "a ticket was sent before it was written"
            assert status_of(running, "CP-07") in ("ACTIVE", "SUPPLYING")
            lock.rollback()
            lock.close()
            lock = None

            wait_for(lambda: "ticket" in (driver.poll() and driver.types()), 60, "the ticket")
            wait_for(
                lambda: any("database is back" in e.text for e in recorder.logs),
                10,
                "database back",
            )
            tickets = [n for n in driver.notices if isinstance(n, Ticket)]
            assert len(tickets) == 1 and tickets[0].kwh == 0.8
            wait_for(lambda: status_of(running, "CP-07") == "ACTIVE", 10, "CP-07 ACTIVE again")
            with sqlite3.connect(tmp_path / "central.db") as db:
                rows = db.execute(
                    "SELECT status, kwh FROM sessions WHERE session_id = ?", (auth.session_id,)
                ).fetchall()
            assert rows == [("ticketed", 0.8)]
            assert not [
                d for d in dead_letters(kafka_bootstrap, topics) if auth.session_id in str(d)
            ], "an event of the session was dead-lettered"
        finally:
            if lock is not None:
                lock.rollback()
                lock.close()
