"""Example events of every Kafka message type, for the Kafka tests."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import get_type_hints

from wire.kafka import messages as m
from wire.kafka.topics import Topics

CODECS_BY_TOPIC = {
    "requests": m.REQUESTS,
    "cp_commands": m.CP_COMMANDS,
    "cp_events": m.CP_EVENTS,
    "driver_notices": m.DRIVER_NOTICES,
    "network_state": m.NETWORK_STATE,
    "central_status": m.CENTRAL_STATUS,
    "dead_letter": m.DEAD_LETTER,
}

CLASSES_BY_TOPIC: dict[str, list[type[m.Event]]] = {
    "requests": [m.ChargeRequest],
    "cp_commands": [m.Authorize, m.Stop, m.Resume],
    "cp_events": [
        m.AuthorizationRejected,
        m.AuthorizationExpired,
        m.SupplyStarted,
        m.SupplyProgress,
        m.SupplyEnded,
    ],
    "driver_notices": [
        m.RequestReceived,
        m.AuthorizedNotice,
        m.Denied,
        m.SupplyStartedNotice,
        m.SupplyProgressNotice,
        m.SupplyInterrupted,
        m.Ticket,
    ],
    "network_state": [m.CpState],
    "central_status": [m.CentralAlive],
    "dead_letter": [m.DeadLetter],
}


def sample(cls: type[m.Event], n: int = 1) -> m.Event:
    """An instance with every field set (optional ones too), distinct per ``n``."""
    hints = get_type_hints(cls)
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if f.name == "ts":
            continue
        if kind in (str, str | None):
            values[f.name] = f"{f.name}-{n} ñ€"
        elif kind in (float, float | None):
            values[f.name] = 1.25 * n
        elif kind in (int, int | None):
            values[f.name] = 7 * n
        elif isinstance(kind, type) and issubclass(kind, StrEnum):
            members = list(kind)
            values[f.name] = members[n % len(members)]
    return cls(**values)


def codecs_of(topics: Topics) -> dict[str, m.EventCodec]:
    return {getattr(topics, attr): codec for attr, codec in CODECS_BY_TOPIC.items()}
