"""Central's side of sealed Kafka values (docs/security.md, layers 2 and 3).

Out: ``evc.cp.commands`` are sealed with the CP's key (kid ``cp:<id>``) and numbered with a
``seq`` that only grows; ``evc.driver.notices`` with the driver's key (``driver:<id>``).
In: ``evc.requests`` and ``evc.cp.events`` must be sealed; each value is opened with the key
of the kid it names, and the event must speak for that kid (:func:`sender_problem`):

- a CP event names the CP whose key sealed it (no CP reports for another);
- a ``charge_request`` sealed by ``driver:X`` has ``driver_id`` X and origin ``app``; one
  sealed by ``cp:Y`` (a manual supply at the CP) has ``cp_id`` Y and origin ``cp``.

The check is a pure function of (kid, event), so it runs in the consumer thread right after
opening, and a refused value is dead-lettered with the reason like any invalid value; the
owner hears of every refusal (audit, control center) through :class:`Refusal`.

Plain functions and small objects, no I/O: :mod:`central_app.kafka_loop` uses them.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wire.errors import InvalidEvent
from wire.kafka.messages import ChargeRequest, Event, EventCodec
from wire.kafka.sealed import (
    ForgedEvent,
    KeyLookup,
    cp_kid,
    driver_kid,
    is_sealed,
    open_value,
    seal,
)
from wire.states import Origin

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A value Central refused on a topic it consumes (dead-lettered already)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    kid: str  # the kid the value named, or "unknown"
    action: str  # forged_event, unsealed_event, invalid_event, handler_failed

    @property
    def detail(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset} key={self.key!r}: {self.reason}"


def classify(value: bytes | str | None, reason: str) -> tuple[str, str]:
    """(kid or "unknown", audit action) of a refused value."""
    if reason.startswith("handler failed"):
        return UNKNOWN, "handler_failed"
    if not is_sealed(value):
        return UNKNOWN, "unsealed_event" if "not a sealed value" in reason else "invalid_event"
    try:
        kid = json.loads(value).get("kid")  # type: ignore[arg-type]
    except (ValueError, AttributeError, TypeError):
        kid = None
    return (kid if isinstance(kid, str) and kid else UNKNOWN)[:100], "forged_event"


def sender_problem(kid: str, event: Event) -> str | None:
    """Why ``event`` may not come from the holder of ``kid`` (None: it may)."""
    if isinstance(event, ChargeRequest):
        if kid.startswith("driver:"):
            if kid != driver_kid(event.driver_id):
                return f"sealed by {kid} but speaks for driver {event.driver_id}"
            if event.origin != Origin.APP:
                return f"sealed by {kid} but origin is {str(event.origin)!r} (a driver's is 'app')"
            return None
        if kid.startswith("cp:"):
            if kid != cp_kid(event.cp_id):
                return f"sealed by {kid} but asks for {event.cp_id}"
            if event.origin != Origin.CP:
                return f"sealed by {kid} but origin is {str(event.origin)!r} (a CP's is 'cp')"
            return None
        return f"a charge_request sealed by {kid!r} (neither a driver nor a CP)"
    cp_id = getattr(event, "cp_id", None)
    if not isinstance(cp_id, str) or kid != cp_kid(cp_id):
        return f"sealed by {kid} but reports for {cp_id}"
    return None


class SealedCodec:
    """An ``EventCodec`` for a topic that carries only sealed values: ``parse`` opens the
    value with the key of the kid it names, then checks the sender; ``InvalidEvent`` (or
    ``ForgedEvent``) with the reason otherwise. Runs in the consumer thread: ``keys`` must
    be safe to call there (``Ledger.key_for``)."""

    def __init__(self, codec: EventCodec, *, topic: str, keys: KeyLookup) -> None:
        self.codec = codec
        self.topic = topic  # without prefix: what the associated data binds
        self.keys = keys

    @property
    def types(self) -> frozenset[str]:
        return self.codec.types

    def parse(self, value: bytes | str | None) -> Event:
        kid, event = open_value(value, keys=self.keys, topic=self.topic, codec=self.codec)
        problem = sender_problem(kid, event)
        if problem is not None:
            raise ForgedEvent(problem)
        return event


#: Bits of ``seq`` below the epoch: the commands one Central may send in one term of office.
SEQ_COUNTER_BITS = 32


def epoch_seq(epoch: int, counter: int) -> int:
    """The ``seq`` of the ``counter``-th command of the term that began at ``epoch``."""
    return (epoch << SEQ_COUNTER_BITS) | counter


class Sealer:
    """Encodes Central's outgoing values: sealed for a CP or a driver, plain otherwise, and
    every command to a CP numbered with a ``seq`` that only grows (replay protection).

    ``seq`` must keep growing across Central restarts and a pair's failovers, whatever the
    hosts' clocks say (a standby whose clock is behind would otherwise see every command it
    sends refused as a replay). So it is the *epoch* as the high part, a counter as the low
    part (:func:`epoch_seq`): the epoch is the database's ``central_leader.epoch``, bumped in
    a transaction each time a Central takes office (``Store.take_epoch``, or the pair's
    ``Leadership.take_office``), so each term of office numbers above every earlier one.
    Without an epoch (a Sealer not attached to a database, in tests) it falls back to the
    clock in microseconds.
    """

    def __init__(
        self,
        *,
        prefix: str,
        keys: KeyLookup | None,
        cp_commands: str,
        driver_notices: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self.keys = keys  # None: --insecure, nothing is sealed
        self.cp_commands = cp_commands
        self.driver_notices = driver_notices
        self.clock = clock
        self._seq = 0
        self._lock = threading.Lock()
        self.epoch: int | None = None  # set before the first command (Central's term of office)

    def take_office(self, epoch: int) -> None:
        """Number the commands of a new term: above every ``seq`` of earlier epochs."""
        with self._lock:
            self.epoch = epoch
            self._seq = epoch_seq(epoch, 0)

    def next_seq(self) -> int:
        with self._lock:
            if self.epoch is not None:
                self._seq += 1
                if self._seq >= epoch_seq(self.epoch + 1, 0):
                    raise RuntimeError("2**32 commands in one term of office: restart Central")
                return self._seq
            self._seq = max(self._seq + 1, int(self.clock() * 1_000_000))
            return self._seq

    def kid_for(self, topic: str, key: str) -> str | None:
        if topic == self.cp_commands:
            return cp_kid(key)
        if topic == self.driver_notices:
            return driver_kid(key)
        return None

    def encode(self, topic: str, key: str, event: Event) -> bytes:
        """The value to produce; ``MissingKey`` when it must be sealed and cannot be."""
        if topic == self.cp_commands and getattr(event, "seq", 0) is None:
            event = dataclasses.replace(event, seq=self.next_seq())  # type: ignore[call-arg]
        kid = self.kid_for(topic, key) if self.keys is not None else None
        if kid is None:
            return event.to_json()
        raw = self.keys(kid)  # type: ignore[misc]
        if raw is None:
            raise MissingKey(kid)
        return seal(event, key=raw, kid=kid, topic=topic.removeprefix(self.prefix))


class MissingKey(InvalidEvent):
    """An outgoing value for a CP or a driver that has no key (not issued yet, or revoked)."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"{kid} has no key (not issued yet, or revoked)")
        self.kid = kid
