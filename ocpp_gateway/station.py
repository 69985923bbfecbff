"""One OCPP charge point as an EVCharging engine: what each OCPP message and each Central
command means, in plain Python (no sockets, no Kafka, no WebSocket).

Every input is a method that returns an ``Outcome``: the Kafka events to publish (sealed and
sent by the gateway) and the OCPP calls to make towards the charger. The gateway's adapters
do the I/O; the unit tests drive this with a fake clock.

One station per CP at Central, and a CP is one connector of a charger (EVCharging's CPs
have one; ``ocpp_gateway.connectors`` gives each connector of a charger its own). What the
charger says of itself as a whole — its connector 0 (2.0.1: EVSE 0) — reaches every
connector's station (``on_status(..., whole_charger=True)``) and is kept apart from the
connector's own status: a Faulted or Unavailable charger breaks each of its CPs until the
charger as a whole recovers, whatever the connectors say meanwhile.

The decisions are the same for OCPP 1.6J and 2.0.1: a 2.0.1 TransactionEvent
(``on_transaction_event``) is taken apart into the 1.6 steps — the start, the meter values,
the stop — and each goes through the one method that decides it for both versions.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ocpp_gateway import mapping
from ocpp_gateway.transactions import Transaction, TransactionBook
from wire.kafka.messages import (
    AuthorizationExpired,
    AuthorizationRejected,
    Authorize,
    Event,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.reasons import EndReason
from wire.states import OFFLINE_ORIGIN
from wire.tcp_messages import AdminState
from wire.timefmt import format_ts, parse_ts, utc_now

CONNECTOR = 1
# s a transaction the charger no longer has (its connector Available, no reading) waits for a
# late StopTransaction before it ends with its last reading (engine_restart)
LOST_GRACE_S = 10.0


@dataclass(frozen=True)
class RemoteStart:
    id_tag: str
    # 2.0.1: echoed in the TransactionEvent that starts it (a number, not part of the decision)
    remote_start_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class RemoteStop:
    transaction_id: int
    charger_tx: str = ""  # 2.0.1: the charger's own transactionId


@dataclass(frozen=True)
class ChangeAvailability:
    operative: bool


Call = RemoteStart | RemoteStop | ChangeAvailability


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __iadd__(self, other: Outcome) -> Outcome:
        self.events += other.events
        self.calls += other.calls
        return self


@dataclass
class Pending:
    """An authorization from Central waiting for the charger's StartTransaction."""

    command: Authorize
    deadline: datetime
    remote_start_id: int = 0


def _ts(text: str | None) -> str:
    """An OCPP timestamp (any ISO-8601) in PROTOCOL.md's form; now when unreadable."""
    if text:
        try:
            return format_ts(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    return format_ts(utc_now())


class Station:
    def __init__(
        self, cp_id: str, book: TransactionBook, *, lost_grace: float = LOST_GRACE_S
    ) -> None:
        self.cp_id = cp_id
        self.book = book
        self.lost_grace = lost_grace
        # when the open transaction ends unless the charger shows it still has it (a reading,
        # a charging status, its StopTransaction): set by an Available connector
        self._lost_at: datetime | None = None
        self.status = mapping.AVAILABLE  # the connector's (connector 0's are not kept here)
        # the health of the connector's own status and of the charger's as a whole (connector
        # 0); ``health`` is the charger's while it is KO, else the connector's
        self.connector_health = mapping.Health(mapping.EngineHealth.OK)
        self.charger_health = mapping.Health(mapping.EngineHealth.OK)
        self.health = mapping.Health(mapping.EngineHealth.OK)
        self.admin_state = AdminState.ACTIVE
        self.pending: Pending | None = None
        self.price = 0.0  # EUR/kWh, Central's (AUTHORIZED): an offline transaction's estimate
        self._last_progress: tuple[float, float] | None = None  # (monotonic, Wh)
        # 2.0.1 RequestStartTransaction's remoteStartId: unique while a pending one lives
        self._remote_start_ids = itertools.count(int(time.time()) % 1_000_000_000)

    # --- Central's commands ------------------------------------------------------------------

    def on_authorize(self, command: Authorize) -> Outcome:
        """Central authorized a driver here: RemoteStartTransaction with the driver id."""
        reason = self._busy()
        if reason:
            return Outcome(
                events=[
                    AuthorizationRejected(
                        session_id=command.session_id, cp_id=self.cp_id, reason=reason
                    )
                ]
            )
        remote_start_id = next(self._remote_start_ids)
        self.pending = Pending(command, parse_ts(command.expires_at), remote_start_id)
        return Outcome(calls=[RemoteStart(command.driver_id, remote_start_id)])

    def remote_start_refused(self, session_id: str, why: str) -> Outcome:
        if self.pending is None or self.pending.command.session_id != session_id:
            return Outcome()
        return self._cancel_pending(why)

    def on_admin(self, state: AdminState) -> Outcome:
        """Stop → RemoteStopTransaction (if one runs) + ChangeAvailability Inoperative;
        Resume → ChangeAvailability Operative. Only a change acts (Kafka's command and the
        heartbeat's admin state both bring it; the second is a no-op)."""
        if state == self.admin_state:
            return Outcome()
        self.admin_state = state
        out = Outcome()
        if state == AdminState.STOPPED:
            tx = self.book.running()
            if tx is not None:
                out.calls.append(RemoteStop(tx.transaction_id, tx.charger_tx))
            out += self._cancel_pending("stopped")
            out.calls.append(ChangeAvailability(operative=False))
        else:
            out.calls.append(ChangeAvailability(operative=True))
        return out

    @property
    def free(self) -> bool:
        """Central may authorize a driver here now (not stopped, broken or busy)."""
        return not self._busy()

    def _busy(self) -> str:
        if self.admin_state == AdminState.STOPPED:
            return "charging point stopped"
        if self.health.health != mapping.EngineHealth.OK:
            return "charging point broken"
        if self.book.running() is not None or self.pending is not None:
            return "charging point is busy"
        return ""

    # --- the charger's messages --------------------------------------------------------------

    def on_status(
        self,
        status: str,
        error_code: str = "NoError",
        info: str | None = None,
        *,
        whole_charger: bool = False,
    ) -> Outcome:
        """StatusNotification: the health the monitor reports; Faulted ends a running supply
        (reason fault) with the last reading, as a broken engine does. ``whole_charger``: the
        status of connector 0 (2.0.1: EVSE 0), the charger as a whole."""
        health = mapping.health_of(
            status, error_code, info, stopped=self.admin_state == AdminState.STOPPED
        )
        if whole_charger:
            self.charger_health = health
        else:
            self.status, self.connector_health = status, health
        ok = self.charger_health.health == mapping.EngineHealth.OK
        self.health = self.connector_health if ok else self.charger_health
        out = Outcome()
        if whole_charger:
            pass  # connector 0 Available says nothing of this connector's transaction
        elif status == mapping.AVAILABLE and self.book.running() is not None:
            # A connector Available has no transaction (OCPP 1.6 §7.7): the charger rebooted
            # without it (found by evc-chaos: EV_OCPP restored it from its book and kept the CP
            # busy for good). Its StopTransaction may still come (queued while offline), so
            # the end waits ``lost_grace`` (``tick``).
            if self._lost_at is None:
                self._lost_at = utc_now() + timedelta(seconds=self.lost_grace)
        else:
            self._lost_at = None
        if self.health.health != mapping.EngineHealth.OK:
            tx = self.book.running()
            if tx is not None and status == mapping.FAULTED:
                out.events.append(self._end(tx, tx.meter_last, None, EndReason.FAULT))
            out += self._cancel_pending("engine fault")
        return out

    def _cancel_pending(self, reason: str) -> Outcome:
        """An authorization waiting for its StartTransaction ends (as EV_CP_E's does)."""
        if self.pending is None:
            return Outcome()
        command, self.pending = self.pending.command, None
        return Outcome(
            events=[
                AuthorizationRejected(
                    session_id=command.session_id, cp_id=self.cp_id, reason=reason
                )
            ]
        )

    def check_id_tag(self, id_tag: str) -> bool | None:
        """Authorize.req: True when Central already authorized this driver here, None when
        Central must be asked (a charge request with origin ``cp``)."""
        if self.pending is not None and self.pending.command.driver_id == id_tag:
            return True
        return None

    def on_start(
        self,
        id_tag: str,
        meter_start: float | None,
        timestamp: str | None,
        charger_tx: str = "",
        offline: bool = False,
    ) -> tuple[int, bool, Outcome]:
        """StartTransaction: (transactionId, accepted, events). Accepted for the driver
        Central authorized, and for any id the charger authorized on its own while alone
        (``offline``, ``mapping.started_alone``): it charges already, and Central bills that
        transaction at its end, or audits an id it does not know. Anything else gets an id
        (OCPP requires one) and Invalid.
        2.0.1: ``charger_tx`` is the charger's transactionId, ``meter_start`` may be None."""
        pending = self.pending
        if pending is None or pending.command.driver_id != id_tag:
            if offline:
                return (
                    self._start_alone(id_tag, meter_start, timestamp, charger_tx),
                    True,
                    Outcome(),
                )
            return self.book.ids.next(), False, Outcome()
        self.pending = None
        command = pending.command
        started_at = _ts(timestamp)
        tx = self.book.begin(
            session_id=command.session_id,
            driver_id=command.driver_id,
            price=command.price,
            meter_start=meter_start,
            started_at=started_at,
            charger_tx=charger_tx,
        )
        self._last_progress = None
        event = SupplyStarted(
            session_id=command.session_id,
            cp_id=self.cp_id,
            driver_id=command.driver_id,
            started_at=started_at,
        )
        return tx.transaction_id, True, Outcome(events=[event])

    def _start_alone(
        self, id_tag: str, meter_start: float | None, timestamp: str | None, charger_tx: str
    ) -> int:
        """An offline transaction: in the book under a session id of the gateway's, which its
        ``supply_ended`` gives Central (nothing goes to Central before: it has no session)."""
        tx = self.book.begin(
            session_id=uuid.uuid4().hex,
            driver_id=id_tag,
            price=self.price,
            meter_start=meter_start,
            started_at=_ts(timestamp),
            charger_tx=charger_tx,
            offline=True,
        )
        return tx.transaction_id

    def on_meter(
        self, transaction_id: int | None, meter_wh: float | None, kw: float | None, now: float
    ) -> Outcome:
        """MeterValues of a running transaction → supply_progress (kW reported or derived)."""
        tx = self.book.open.get(transaction_id) if transaction_id is not None else None
        if tx is None or meter_wh is None:
            return Outcome()
        if kw is None:
            kw = 0.0
            if self._last_progress is not None:
                then, wh = self._last_progress
                if now > then:
                    kw = max(0.0, (meter_wh - wh) / 1000.0 / ((now - then) / 3600.0))
        self._last_progress = (now, meter_wh)
        self._lost_at = None  # the charger still has it
        if not tx.metered:  # a 2.0.1 start without a reading: this one is the start
            tx.meter_start, tx.meter_last, tx.metered = meter_wh, meter_wh, True
        tx.meter_last = max(tx.meter_last, meter_wh)
        tx.seq += 1
        # on disk too: a transaction the charger loses while the gateway restarts ends with
        # this reading (``tick``), not with meterStart
        self.book.save()
        if tx.offline:  # Central has no session to show it in: its end bills it
            return Outcome()
        event = SupplyProgress(
            session_id=tx.session_id,
            cp_id=self.cp_id,
            driver_id=tx.driver_id,
            seq=tx.seq,
            kw=round(kw, 2),
            kwh=mapping.kwh_between(tx.meter_start, tx.meter_last),
            eur=mapping.eur_between(tx.meter_start, tx.meter_last, tx.price),
        )
        return Outcome(events=[event])

    def on_stop(
        self, transaction_id: int, meter_stop: float, timestamp: str | None, reason: str | None
    ) -> Outcome:
        """StopTransaction (live or replayed after an outage) → supply_ended with the meter's
        energy; a transaction already ended (replayed twice, or ended by a fault) → nothing."""
        tx = self.book.open.get(transaction_id)
        if tx is None:
            return Outcome()
        return Outcome(events=[self._end(tx, meter_stop, timestamp, mapping.end_reason(reason))])

    def _end(
        self, tx: Transaction, meter_wh: float, timestamp: str | None, reason: EndReason
    ) -> Event:
        self.book.finish(tx.transaction_id)
        return SupplyEnded(
            session_id=tx.session_id,
            cp_id=self.cp_id,
            driver_id=tx.driver_id,
            kwh=mapping.kwh_between(tx.meter_start, meter_wh),
            eur=mapping.eur_between(tx.meter_start, meter_wh, tx.price),
            started_at=tx.started_at,
            ended_at=_ts(timestamp),
            reason=reason,
            origin=OFFLINE_ORIGIN if tx.offline else None,
        )

    def on_transaction_event(self, ev: mapping.TxEvent, now: float) -> tuple[bool | None, Outcome]:
        """A 2.0.1 TransactionEvent → (the idToken's verdict, None when it carries none; the
        events). The event that first names the driver Central authorized here — by its
        idToken, or by the remoteStartId of the gateway's RequestStartTransaction — is the
        StartTransaction (a charger may open its transaction at plug-in, before anyone is
        authorized: its earlier events wait). Its readings are the meter values; Ended is
        the StopTransaction with the last reading (else the last one known)."""
        out = Outcome()
        tx = self.book.by_charger(ev.charger_tx)
        verdict: bool | None = None
        just_started = False
        if tx is None:
            if self.book.charger_ended(ev.charger_tx):  # replayed after its end: nothing
                return (True if ev.id_tag is not None else None), out
            driver = ev.id_tag
            pending = self.pending
            if (
                driver is None
                and pending is not None
                and ev.remote_start_id is not None
                and ev.remote_start_id == pending.remote_start_id
            ):
                driver = pending.command.driver_id
            if driver is None:
                return None, out
            transaction_id, accepted, out = self.on_start(
                driver, ev.wh, ev.timestamp, ev.charger_tx, offline=ev.offline
            )
            if not accepted:
                return False, out
            verdict = True if ev.id_tag is not None else None  # a verdict only on a token
            tx = self.book.open[transaction_id]
            just_started = True
        elif ev.id_tag is not None:
            verdict = ev.id_tag == tx.driver_id  # another card mid-transaction: not its own
        if ev.kind == mapping.ENDED:
            meter_stop = ev.wh if ev.wh is not None else tx.meter_last
            if not tx.metered:
                meter_stop = tx.meter_start
            out += self.on_stop(tx.transaction_id, meter_stop, ev.timestamp, ev.reason or "Local")
        elif ev.wh is not None and not just_started:
            out += self.on_meter(tx.transaction_id, ev.wh, ev.kw, now)
        return verdict, out

    # --- time --------------------------------------------------------------------------------

    def tick(self) -> Outcome:
        """An authorization not used before its ``expires_at`` ends (the CP is free again);
        a transaction the charger lost ends with its last reading once its grace is over."""
        out = Outcome()
        now = utc_now()
        tx = self.book.running()
        if tx is None:
            self._lost_at = None
        elif self._lost_at is not None and now >= self._lost_at:
            self._lost_at = None
            out.events.append(self._end(tx, tx.meter_last, None, EndReason.ENGINE_RESTART))
        if self.pending is None or now < self.pending.deadline:
            return out
        command, self.pending = self.pending.command, None
        out.events.append(AuthorizationExpired(session_id=command.session_id, cp_id=self.cp_id))
        return out
