"""Central's word to a CP in the charging-point tests: the ``Authorize`` command that lets a
driver charge (0.35 €/kWh, valid for a minute), built in one place and sent as Central
sends it, on the CP's key of the commands topic."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from wire.kafka.messages import Authorize
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics
from wire.timefmt import format_ts, utc_now


def authorization(cp_id: str, driver: str = "D1", session: str = "", **extra: Any) -> Authorize:
    """The ``Authorize`` of ``driver`` at ``cp_id`` for ``session`` (a fresh one if none),
    with ``extra`` fields (``seq`` …) as given."""
    session = session or f"S-{uuid.uuid4().hex[:8]}"
    return Authorize(
        session_id=session,
        request_id=f"R-{session}",
        driver_id=driver,
        cp_id=cp_id,
        price=0.35,
        expires_at=format_ts(utc_now() + timedelta(seconds=60)),
        **extra,
    )


def authorize(
    producer: EventProducer, topics: Topics, cp_id: str, driver: str = "D1", session: str = ""
) -> str:
    """Sends the plain (unsealed) authorization and waits until the broker has it; returns
    its session id."""
    command = authorization(cp_id, driver, session)
    producer.send(topics.cp_commands, cp_id, command)
    producer.flush(5)
    return command.session_id
