"""Kafka event values (PROTOCOL.md §3): one frozen dataclass per ``type``, JSON on the wire.

``supply_started`` and ``supply_progress`` exist on two topics with different fields, so each
topic has its own ``EventCodec``; parse with the codec of the topic the value came from.
Every event carries ``v`` = 1 and ``ts``; ``ts`` defaults to now when an event is built.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, get_type_hints

from wire.errors import InvalidEvent
from wire.reasons import EndReason
from wire.states import CpStatus, Origin
from wire.timefmt import now_ts

VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base: subclasses set ``TYPE``; their fields are the JSON keys beside type, v and ts."""

    TYPE: ClassVar[str]
    ts: str = field(default_factory=now_ts)

    def to_dict(self) -> dict[str, Any]:
        # Every field is a str, number or None: a shallow read is all ``asdict``'s deep copy
        # would give, at a fifth of the cost (Central writes thousands of events a second).
        body = {name: getattr(self, name) for name in _field_names(type(self))}
        return {"type": self.TYPE, "v": VERSION, **body}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


Checker = Callable[[Any], Any]


def _checker(cls: type[Event], name: str, kind: Any) -> Checker:
    """The validator of one field, built once per codec: Central parses thousands of values
    a second on its consumer thread, which shares the interpreter lock with the heartbeats,
    so nothing per value may rebuild the field's type or its error text."""
    where = f"{cls.TYPE}.{name}"
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        enum: type[StrEnum] = kind
        allowed = ", ".join(m.value for m in enum)

        def member(value: Any) -> Any:
            # an enum field, as the ``#`` codec reads one: the wire spelling of a member
            try:
                return enum(value)
            except ValueError:
                raise InvalidEvent(f"{where} must be one of {allowed}, got {value!r}") from None

        return member
    optional = kind in (str | None, float | None, int | None)

    def absent() -> None:
        if optional:
            return None
        raise InvalidEvent(f"{where} is required")

    if kind in (str, str | None):

        def text(value: Any) -> Any:
            if type(value) is str:
                return value
            if value is None:
                return absent()
            if not isinstance(value, str):
                raise InvalidEvent(f"{where} must be a string")
            return value

        return text
    if kind in (float, float | None):

        def number(value: Any) -> Any:
            if value is None:
                return absent()
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise InvalidEvent(f"{where} must be a finite number")
            return float(value)

        return number
    if kind in (int, int | None):

        def integer(value: Any) -> Any:
            if value is None:
                return absent()
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidEvent(f"{where} must be an integer")
            return value

        return integer
    raise TypeError(f"unsupported field type {kind!r}")


def load_value(value: bytes | str | None) -> Any:
    """The JSON a Kafka value holds (a plain event or a sealed envelope); ``InvalidEvent``
    when there is no value or it is not JSON."""
    if value is None:
        raise InvalidEvent("empty value")
    try:
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None


class EventCodec:
    """Validates JSON values of one topic into their dataclasses."""

    def __init__(self, *classes: type[Event]) -> None:
        self._by_type = {cls.TYPE: cls for cls in classes}
        self._fields: dict[type[Event], tuple[tuple[str, Checker], ...]] = {}
        for cls in classes:
            hints = get_type_hints(cls)
            self._fields[cls] = tuple(
                (f.name, _checker(cls, f.name, hints[f.name])) for f in dataclasses.fields(cls)
            )

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def parse(self, value: bytes | str | None) -> Event:
        obj = load_value(value)
        if not isinstance(obj, dict):
            raise InvalidEvent("value is not a JSON object")
        kind = obj.get("type")
        cls = self._by_type.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise InvalidEvent(f"unknown type {kind!r}")
        if obj.get("v") != VERSION:
            raise InvalidEvent(f"unsupported version {obj.get('v')!r}")
        return cls(**{name: check(obj.get(name)) for name, check in self._fields[cls]})


# --- field groups ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SessionEvent(Event):
    """Base of the events of one supply, on evc.cp.events and evc.driver.notices alike: which
    session, at which CP, for which driver (the first keys of each, in this order)."""

    session_id: str
    cp_id: str
    driver_id: str


@dataclass(frozen=True, kw_only=True)
class SupplyAccount(SessionEvent):
    """Base of a finished supply's account: the engine's ``supply_ended`` and the driver's
    ``ticket`` Central makes of it carry the same figures."""

    kwh: float
    eur: float
    started_at: str
    ended_at: str
    reason: EndReason


# --- evc.requests -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChargeRequest(Event):
    TYPE = "charge_request"
    request_id: str
    driver_id: str
    cp_id: str
    origin: Origin = Origin.APP


# --- evc.cp.commands ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Authorize(Event):
    TYPE = "authorize"
    session_id: str
    request_id: str
    driver_id: str
    cp_id: str
    price: float
    expires_at: str
    # Replay protection (docs/security.md): a number that only grows per CP; the engine
    # refuses a command whose seq is not above the last one it accepted. None from a
    # version-1 Central.
    seq: int | None = None


@dataclass(frozen=True, kw_only=True)
class Stop(Event):
    TYPE = "stop"
    cp_id: str
    seq: int | None = None


@dataclass(frozen=True, kw_only=True)
class Resume(Event):
    TYPE = "resume"
    cp_id: str
    seq: int | None = None


# --- evc.cp.events ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AuthorizationRejected(Event):
    TYPE = "authorization_rejected"
    session_id: str
    cp_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class AuthorizationExpired(Event):
    TYPE = "authorization_expired"
    session_id: str
    cp_id: str
    reason: str = "not plugged in in time"


@dataclass(frozen=True, kw_only=True)
class CommandRefused(Event):
    """Extension (docs/security.md): an engine refused a command it read on its partition
    (wrong key, not sealed, replayed ``seq``, an ``authorize`` for a session it already saw),
    so Central can audit it and show it to the operator. ``offset`` is where it was read."""

    TYPE = "command_refused"
    cp_id: str
    reason: str
    command_type: str = ""
    offset: int | None = None


@dataclass(frozen=True, kw_only=True)
class SupplyStarted(SessionEvent):
    TYPE = "supply_started"
    started_at: str


@dataclass(frozen=True, kw_only=True)
class SupplyProgress(SessionEvent):
    TYPE = "supply_progress"
    seq: int
    kw: float
    kwh: float
    eur: float


@dataclass(frozen=True, kw_only=True)
class SupplyEnded(SupplyAccount):
    TYPE = "supply_ended"
    # extension: ``offline`` for a supply the CP started on its own, with an id it authorized
    # locally while Central was out of reach; Central has no session for it and bills it at
    # its end (``session_id`` is the CP's); absent for a session Central authorized
    origin: str | None = None


# --- evc.driver.notices -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RequestReceived(Event):
    TYPE = "request_received"
    request_id: str
    cp_id: str
    driver_id: str
    origin: Origin = Origin.APP  # extension, as in ``authorized``


@dataclass(frozen=True, kw_only=True)
class AuthorizedNotice(Event):
    TYPE = "authorized"
    request_id: str
    session_id: str
    cp_id: str
    driver_id: str
    expires_at: str
    # Extension: where the request was made. ``cp``: at the charging point itself (the
    # driver's card at an OCPP charger, or the technician panel), not in this driver's app,
    # which then shows the CP reserved by the driver's card until ``expires_at``.
    origin: Origin = Origin.APP


@dataclass(frozen=True, kw_only=True)
class Denied(Event):
    TYPE = "denied"
    request_id: str
    cp_id: str
    driver_id: str
    reason: str
    session_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SupplyStartedNotice(SessionEvent):
    TYPE = "supply_started"
    started_at: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SupplyProgressNotice(SessionEvent):
    TYPE = "supply_progress"
    kw: float
    kwh: float
    eur: float


@dataclass(frozen=True, kw_only=True)
class SupplyInterrupted(SessionEvent):
    TYPE = "supply_interrupted"
    reason: EndReason
    kwh: float
    eur: float


@dataclass(frozen=True, kw_only=True)
class Ticket(SupplyAccount):
    TYPE = "ticket"
    request_id: str | None = None
    # A correction (docs/protocol.md): Central's provisional ticket (inferred from the last
    # reading it had) replaced by the engine's final reading; these are the figures it had.
    was_kwh: float | None = None
    was_eur: float | None = None

    @property
    def amended(self) -> bool:
        return self.was_kwh is not None


# --- evc.network.state, evc.central.status, evc.dead-letter --------------------------------


@dataclass(frozen=True, kw_only=True)
class CpState(Event):
    TYPE = "cp_state"
    cp_id: str
    location: str
    x: float | None
    y: float | None
    price: float
    status: CpStatus
    kw: float = 0.0
    eur: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CentralAlive(Event):
    TYPE = "central_alive"
    central_id: str
    started_at: str
    # "active" or "standby" when Centrals run as a pair (None: a lone Central, which serves)
    role: str | None = None

    @property
    def serving(self) -> bool:
        return self.role in (None, "active")


@dataclass(frozen=True, kw_only=True)
class DeadLetter(Event):
    TYPE = "dead_letter"
    topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    value: str  # the original value, decoded with replacement characters


REQUESTS = EventCodec(ChargeRequest)
CP_COMMANDS = EventCodec(Authorize, Stop, Resume)
CP_EVENTS = EventCodec(
    AuthorizationRejected,
    AuthorizationExpired,
    SupplyStarted,
    SupplyProgress,
    SupplyEnded,
    CommandRefused,
)
DRIVER_NOTICES = EventCodec(
    RequestReceived,
    AuthorizedNotice,
    Denied,
    SupplyStartedNotice,
    SupplyProgressNotice,
    SupplyInterrupted,
    Ticket,
)
NETWORK_STATE = EventCodec(CpState)
CENTRAL_STATUS = EventCodec(CentralAlive)
DEAD_LETTER = EventCodec(DeadLetter)
