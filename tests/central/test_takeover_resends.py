"""Found by evc-chaos (docs/reliability.md): a Central wrote a ticket and was deposed (or
killed) before its notice left; the next Central only restored open sessions, so the driver
waited forever. A Central taking office now sends again the last minutes' tickets whose
notices the brokers never acknowledged, unless it finds them on the topic."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Insert

from central_app.db import SessionRow, open_database
from tests.central.conftest import Recorder, make_runtime
from tests.central.scripted import Driver
from tests.waiting import wait_for
from wire.kafka.messages import Ticket
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

pytestmark = pytest.mark.kafka


def ticketed(session_id: str, kwh: float, *, notified_at: str | None = None) -> Insert:
    """The row of a session a Central ticketed just now at CP-01 for D-001 (0.42 €/kWh)."""
    return SessionRow.__table__.insert().values(
        session_id=session_id,
        cp_id="CP-01",
        driver_id="D-001",
        price=0.42,
        authorized_at=now_ts(),
        started_at=now_ts(),
        ended_at=now_ts(),
        status="ticketed",
        kwh=kwh,
        eur=round(kwh * 0.42, 2),
        reason="unplugged",
        ticketed_at=now_ts(),
        notified_at=notified_at,
    )


def test_a_ticket_written_before_a_takeover_reaches_the_driver(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> None:
    runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder)
    db = open_database(runtime.config.db_url)
    with db.engine.begin() as conn:  # what the deposed Central wrote, and no notice left
        conn.execute(ticketed("s-deposed", 0.612))
    driver = Driver(kafka_bootstrap, topics, "D-001", from_beginning=True)
    runtime.start()
    try:

        def ticket() -> Ticket | None:
            driver.poll()
            return next((n for n in driver.notices if isinstance(n, Ticket)), None)

        sent = wait_for(ticket, 30, "the ticket sent again by the Central taking office")
        assert (sent.session_id, sent.kwh, sent.eur, sent.was_kwh) == (
            "s-deposed",
            0.612,
            0.26,
            None,
        )
    finally:
        runtime.stop()
        driver.close()


def test_tickets_whose_notices_left_are_not_sent_again_at_each_takeover(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> None:
    """Found by evc-chaos (seed 2027, the fix above): every Central taking office sent every
    ticket of the last ten minutes again, so drivers got the same ticket two to four times
    in a campaign with a few role changes. Only a ticket whose notice the brokers never
    acknowledged is sent again; the acknowledgement is written on the row (notified_at)."""
    db = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    with db.engine.begin() as conn:
        for session_id, kwh in (("s-sent", 0.5), ("s-lost", 0.612)):
            notified = now_ts() if session_id == "s-sent" else None
            conn.execute(ticketed(session_id, kwh, notified_at=notified))
    driver = Driver(kafka_bootstrap, topics, "D-001", from_beginning=True)

    def tickets() -> list[str]:
        driver.poll()
        return [n.session_id for n in driver.notices if isinstance(n, Ticket)]

    try:
        for _takeover in range(2):
            runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder)
            runtime.start()
            try:
                wait_for(tickets, 30, "the lost ticket sent again")

                def acknowledged() -> bool:
                    with db.engine.begin() as conn:
                        row = conn.execute(
                            SessionRow.__table__.select().where(SessionRow.session_id == "s-lost")
                        ).one()
                    return row.notified_at is not None

                wait_for(acknowledged, 30, "the brokers' acknowledgement written on the row")
            finally:
                runtime.stop()
        deadline = time.monotonic() + 3  # anything else sent would be there by now
        while time.monotonic() < deadline:
            tickets()
        assert tickets() == ["s-lost"]
    finally:
        driver.close()
        db.dispose()


def test_a_ticket_whose_notice_left_before_its_acknowledgement_was_written_is_sent_once(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> None:
    """Found by evc-chaos (seed 2026, finding 9): central-b sent a ticket's notice 0.2 s
    before central-a took office (and another Central lost PostgreSQL just after sending
    one); the brokers had the notice, but its acknowledgement never reached the row
    (notified_at), and the new active sent the ticket a second time: two identical notices
    at consecutive offsets. The Central taking office now reads the topic back and sends
    only what is not there; a ticket whose notice never left is still sent."""
    db = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    with db.engine.begin() as conn:
        conn.execute(ticketed("s-acked", 0.474))  # its notice left; the mark did not
        conn.execute(ticketed("s-lost", 0.612))  # its notice never left
    driver = Driver(kafka_bootstrap, topics, "D-001", from_beginning=True)
    left = Ticket(
        session_id="s-acked",
        cp_id="CP-01",
        driver_id="D-001",
        kwh=0.474,
        eur=0.2,
        started_at=now_ts(),
        ended_at=now_ts(),
        reason="unplugged",
    )
    driver.producer.send(topics.driver_notices, "D-001", left)  # what the deposed one sent
    assert driver.producer.flush(10) == 0

    def tickets() -> list[str]:
        driver.poll()
        return [n.session_id for n in driver.notices if isinstance(n, Ticket)]

    def both_marked() -> bool:
        with db.engine.begin() as conn:
            rows = conn.execute(SessionRow.__table__.select()).all()
        return all(row.notified_at is not None for row in rows)

    runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder)
    runtime.start()
    try:
        wait_for(both_marked, 60, "both tickets' notices marked as on the brokers")
        deadline = time.monotonic() + 3  # anything else sent would be there by now
        while time.monotonic() < deadline:
            tickets()
        assert sorted(tickets()) == ["s-acked", "s-lost"]
    finally:
        runtime.stop()
        driver.close()
        db.dispose()
