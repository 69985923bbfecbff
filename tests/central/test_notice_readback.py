"""Reading ticket notices back from evc.driver.notices (central_app.notice_readback), what a
Central taking office does before sending unacknowledged tickets again (finding 9 of
docs/reliability.md), on a real broker with sealed values."""

from __future__ import annotations

import time

import pytest

from central_app.notice_readback import ticket_notices
from wire.kafka.messages import Denied, Event, Ticket
from wire.kafka.producer import EventProducer
from wire.kafka.sealed import key_bytes, new_key, seal
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

pytestmark = pytest.mark.kafka


def _ticket(session_id: str, driver_id: str, was_kwh: float | None = None) -> Ticket:
    return Ticket(
        session_id=session_id,
        cp_id="CP-01",
        driver_id=driver_id,
        kwh=0.5,
        eur=0.21,
        started_at=now_ts(),
        ended_at=now_ts(),
        reason="unplugged",
        was_kwh=was_kwh,
        was_eur=None if was_kwh is None else 0.1,
    )


def test_sealed_ticket_notices_are_read_back_for_the_drivers_asked(
    kafka_bootstrap: str, topics: Topics
) -> None:
    keys = {f"driver:{d}": key_bytes(new_key()) for d in ("D-001", "D-002")}
    since_ms = int(time.time() * 1000) - 1000
    producer = EventProducer(kafka_bootstrap, client_id="test-readback")
    notices: list[tuple[str, Event]] = [
        ("D-001", _ticket("s-1", "D-001")),
        ("D-001", _ticket("s-2", "D-001", was_kwh=0.3)),  # an amendment
        ("D-001", Denied(request_id="r-1", cp_id="CP-01", driver_id="D-001", reason="busy")),
        ("D-002", _ticket("s-3", "D-002")),  # another driver's: not asked for
    ]
    try:
        for driver_id, event in notices:
            kid = f"driver:{driver_id}"
            value = seal(event, key=keys[kid], kid=kid, topic="evc.driver.notices")
            producer.send_raw(topics.driver_notices, driver_id.encode(), value)
        # a value that does not open (forged) is skipped, not fatal
        producer.send_raw(topics.driver_notices, b"D-001", b'{"type": "sealed"}')
        assert producer.flush(10) == 0
    finally:
        producer.close()

    found = ticket_notices(
        kafka_bootstrap,
        topics,
        drivers={"D-001"},
        since_ms=since_ms,
        timeout=30,
        keys=keys.get,
    )
    assert found == {("s-1", False), ("s-2", True)}
    later = ticket_notices(
        kafka_bootstrap,
        topics,
        drivers={"D-001"},
        since_ms=int(time.time() * 1000) + 60_000,
        timeout=30,
        keys=keys.get,
    )
    assert later == set()  # nothing written since then
