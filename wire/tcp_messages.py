"""Monitor ⇄ Central messages (PROTOCOL.md §1), one frozen dataclass per opcode."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from wire.fields import Message, MessageCodec


class AdminState(StrEnum):
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"


class EngineHealth(StrEnum):
    OK = "OK"
    KO = "KO"
    UNREACHABLE = "UNREACHABLE"


OPTIONAL = {"optional": True}
# An extension field after the version-1 fields: it may be left out on the wire.
TRAILING = {"optional": True, "trailing": True}


@dataclass(frozen=True, slots=True)
class Register(Message):
    OPCODE = "REGISTER"
    cp_id: str
    location: str = field(default="", metadata=OPTIONAL)
    x: float | None = field(default=None, metadata=OPTIONAL)
    y: float | None = field(default=None, metadata=OPTIONAL)
    # Extension (docs/protocol.md): a random secret the monitor saves *before* sending
    # REGISTER. A retry with the same claim, before the credential was ever used, gets a
    # fresh credential instead of "already registered" (a lost response no longer locks the
    # CP out), and nobody without the claim can take the id over.
    claim: str = field(default="", metadata=TRAILING)
    # Extension (docs/security.md, "Enrollment"): the one-time token the operator issued for
    # this id; a secured Central registers no id without one (nor a revoked one, ever).
    token: str = field(default="", metadata=TRAILING)


@dataclass(frozen=True, slots=True)
class Registered(Message):
    OPCODE = "REGISTERED"
    cp_id: str
    credential: str
    price: float
    # Extension (docs/security.md): the CP's AES-256-GCM key for its Kafka values.
    key: str = field(default="", metadata=TRAILING)


@dataclass(frozen=True, slots=True)
class Rejected(Message):
    OPCODE = "REJECTED"
    cp_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Auth(Message):
    OPCODE = "AUTH"
    cp_id: str
    credential: str


@dataclass(frozen=True, slots=True)
class Authorized(Message):
    OPCODE = "AUTHORIZED"
    cp_id: str
    price: float
    admin_state: AdminState
    # Extension (docs/security.md): the CP's current key, so a monitor always hands its
    # engine the key Central uses (also after a rotation); sent only over TLS.
    key: str = field(default="", metadata=TRAILING)


@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    OPCODE = "HEARTBEAT"
    cp_id: str
    engine: EngineHealth


@dataclass(frozen=True, slots=True)
class Alive(Message):
    OPCODE = "ALIVE"
    cp_id: str
    admin_state: AdminState


@dataclass(frozen=True, slots=True)
class Fault(Message):
    OPCODE = "FAULT"
    cp_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Recovered(Message):
    OPCODE = "RECOVERED"
    cp_id: str


@dataclass(frozen=True, slots=True)
class Noted(Message):
    OPCODE = "NOTED"
    cp_id: str
    what: str


@dataclass(frozen=True, slots=True)
class Error(Message):
    OPCODE = "ERROR"
    reason: str


REQUESTS = MessageCodec(Register, Auth, Heartbeat, Fault, Recovered)
RESPONSES = MessageCodec(Registered, Rejected, Authorized, Alive, Noted, Error)

Request = Register | Auth | Heartbeat | Fault | Recovered
Response = Registered | Rejected | Authorized | Alive | Noted | Error
