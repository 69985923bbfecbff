"""Found by evc-chaos (docs/reliability.md): a Central wrote a ticket and was deposed (or
killed) before its notice left; the next Central only restored open sessions, so the driver
waited forever. A Central taking office now sends the last minutes' tickets again (drivers
keep one per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from central_app.db import SessionRow, open_database
from tests.central.conftest import Recorder, make_runtime
from tests.central.scripted import Driver
from tests.waiting import wait_for
from wire.kafka.messages import Ticket
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

pytestmark = pytest.mark.kafka


def test_a_ticket_written_before_a_takeover_reaches_the_driver(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> None:
    runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder)
    db = open_database(runtime.config.db_url)
    with db.engine.begin() as conn:  # what the deposed Central wrote, and no notice left
        conn.execute(
            SessionRow.__table__.insert().values(
                session_id="s-deposed",
                cp_id="CP-01",
                driver_id="D-001",
                price=0.42,
                authorized_at=now_ts(),
                started_at=now_ts(),
                ended_at=now_ts(),
                status="ticketed",
                kwh=0.612,
                eur=0.26,
                reason="unplugged",
                ticketed_at=now_ts(),
            )
        )
    driver = Driver(kafka_bootstrap, topics, "D-001")
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
