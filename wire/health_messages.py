"""Monitor ⇄ Engine health messages over ZeroMQ (PROTOCOL.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wire.fields import Message, MessageCodec
from wire.tcp_messages import AdminState


class CentralLink(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class EngineState(StrEnum):
    IDLE = "IDLE"
    AUTHORIZED = "AUTHORIZED"
    SUPPLYING = "SUPPLYING"
    STOPPED = "STOPPED"
    ISOLATED = "ISOLATED"


@dataclass(frozen=True, slots=True)
class Health(Message):
    OPCODE = "HEALTH"
    cp_id: str
    price: float
    admin_state: AdminState
    central_link: CentralLink


@dataclass(frozen=True, slots=True)
class HealthOk(Message):
    OPCODE = "OK"
    cp_id: str
    engine_state: EngineState


@dataclass(frozen=True, slots=True)
class HealthKo(Message):
    OPCODE = "KO"
    cp_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Key(Message):
    """Extension (docs/security.md): the monitor hands its engine the CP's Kafka key, once
    after every (re)connection to the engine and whenever Central issued a new one. The
    engine answers like a HEALTH (``OK``/``KO``)."""

    OPCODE = "KEY"
    cp_id: str
    key: str


HEALTH_REQUESTS = MessageCodec(Health, Key)
HEALTH_REPLIES = MessageCodec(HealthOk, HealthKo)
