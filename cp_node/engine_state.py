"""The engine's state machine and metering, in plain Python (no sockets, no Kafka, no Qt).

States (what HEALTH reports): IDLE, AUTHORIZED, SUPPLYING, STOPPED, ISOLATED, plus a fault
flag (HEALTH answers KO while it is set). Every input is a method that takes the current
monotonic time and returns the Kafka events to publish, so tests drive it with a fake clock:

- ``on_health`` — the monitor's HEALTH: adopts the CP id, follows the price, leaves ISOLATED,
  applies admin_state *edges* (a change ACTIVE→STOPPED stops, STOPPED→ACTIVE resumes; the Kafka
  ``stop``/``resume`` commands are the other path, and edge-triggering keeps them from fighting).
- ``on_authorize`` / ``on_stop`` / ``on_resume`` — Central's commands.
- ``plug`` / ``unplug`` / ``set_fault`` / ``check_manual_request`` — the technician.
- ``tick`` — metering, ``supply_progress`` every second, authorization expiry, isolation.

Rules: no new supply while ISOLATED, faulty, STOPPED or with the central link DOWN (a running
supply finishes when the link goes DOWN). ISOLATED ends a running supply (``monitor_lost``),
a fault ends it (``fault``), a stop ends it (``stopped``), unplugging ends it (``unplugged``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cp_core.metering import amount_eur, energy_kwh, round_kwh
from wire.health_messages import CentralLink, EngineState, Health, HealthKo, HealthOk
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
from wire.tcp_messages import AdminState
from wire.timefmt import format_ts, parse_ts, utc_now

log = logging.getLogger(__name__)

State = EngineState

ALLOWED: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.AUTHORIZED, State.STOPPED, State.ISOLATED}),
    State.AUTHORIZED: frozenset({State.SUPPLYING, State.IDLE, State.STOPPED, State.ISOLATED}),
    State.SUPPLYING: frozenset({State.IDLE, State.STOPPED, State.ISOLATED}),
    State.STOPPED: frozenset({State.IDLE, State.ISOLATED}),
    State.ISOLATED: frozenset({State.IDLE, State.STOPPED}),
}


class Refused(Exception):
    """A technician action that is not possible now; the message says why, for the panel."""


@dataclass(frozen=True)
class EngineConfig:
    power_kw: float = 22.0
    speed: float = 1.0
    auth_timeout: float = 30.0  # real seconds to plug in after an authorization
    isolation_timeout: float = 3.0  # seconds without HEALTH before ISOLATED
    progress_interval: float = 1.0
    stale_command_age: float = 10.0  # stop/resume older than this are left to HEALTH
    # HEALTH's admin_state lags a Kafka stop/resume by up to a heartbeat + a health period:
    # for this long after a command, a HEALTH edge contradicting it is stale, not a decision
    health_admin_lag: float = 3.0


@dataclass
class Authorization:
    session_id: str
    request_id: str
    driver_id: str
    price: float
    granted_at: float
    deadline: float


@dataclass
class Supply:
    session_id: str
    driver_id: str
    price: float
    started_at: str
    started_mono: float
    last_meter: float
    kwh_exact: float = 0.0
    seq: int = 0
    next_progress: float = 0.0
    metered_at: str = ""

    @property
    def kwh(self) -> float:
        return round_kwh(self.kwh_exact)

    @property
    def eur(self) -> float:
        return amount_eur(self.kwh_exact, self.price)


@dataclass(frozen=True)
class Snapshot:
    """What the panel and the console show, copied under the service's lock."""

    cp_id: str | None
    state: State
    fault: bool
    central_link: CentralLink | None
    admin_stopped: bool
    price: float | None
    power_kw: float
    driver_id: str | None
    session_id: str | None
    kw: float
    kwh: float
    eur: float
    auth_seconds_left: float | None
    monitor_seen: bool


@dataclass
class EngineMachine:
    config: EngineConfig = field(default_factory=EngineConfig)
    wall: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        self.state: State = State.ISOLATED  # no monitor yet
        self.fault = False
        self.fault_reason = ""
        self.cp_id: str | None = None
        self.price: float | None = None
        self.central_link: CentralLink | None = None
        self.admin_stopped = False
        self.authorization: Authorization | None = None
        self.supply: Supply | None = None
        self.last_health: float | None = None
        self._last_health_admin: AdminState | None = None
        self._last_command: tuple[float, bool] | None = None  # (when, stopped) from Kafka
        # secure mode: False until the monitor handed over the CP's key (docs/security.md);
        # without it no command can be opened and no event sealed, so no supply may start
        self.key_ready = True
        self._notes: list[str] = []

    # --- helpers ----------------------------------------------------------------------------

    def _go(self, new: State) -> None:
        if new == self.state:
            return
        if new not in ALLOWED[self.state]:
            raise RuntimeError(f"illegal transition {self.state} -> {new}")
        log.info("state %s -> %s", self.state, new)
        self.state = new

    def _ts(self) -> str:
        return format_ts(self.wall())

    def note(self, text: str) -> None:
        self._notes.append(text)

    def drain_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    def _rest_state(self) -> State:
        return State.STOPPED if self.admin_stopped else State.IDLE

    def _cancel_authorization(self, reason: str) -> list[Event]:
        auth = self.authorization
        if auth is None:
            return []
        self.authorization = None
        self.note(f"Authorization for driver {auth.driver_id} cancelled: {reason}")
        return [
            AuthorizationRejected(
                session_id=auth.session_id, cp_id=self.cp_id or "", reason=reason, ts=self._ts()
            )
        ]

    def _meter(self, now: float) -> None:
        supply = self.supply
        if supply is None:
            return
        supply.kwh_exact += energy_kwh(
            self.config.power_kw, now - supply.last_meter, self.config.speed
        )
        supply.last_meter = now
        supply.metered_at = self._ts()

    def _end_supply(self, now: float, reason: EndReason) -> list[Event]:
        supply = self.supply
        if supply is None:
            return []
        self._meter(now)
        self.supply = None
        ended = SupplyEnded(
            session_id=supply.session_id,
            cp_id=self.cp_id or "",
            driver_id=supply.driver_id,
            kwh=supply.kwh,
            eur=supply.eur,
            started_at=supply.started_at,
            ended_at=supply.metered_at,
            reason=str(reason),
            ts=self._ts(),
        )
        self.note(
            f"Supply ended ({reason}): {ended.kwh:.3f} kWh, {ended.eur:.2f} EUR, "
            f"driver {supply.driver_id}"
        )
        return [ended]

    def _not_available(self) -> str | None:
        """Why no new supply may start now, or None."""
        if self.cp_id is None:
            return "no monitor has introduced this CP yet"
        if self.state == State.ISOLATED:
            return "monitor lost"
        if not self.key_ready:
            return "waiting for the key from the monitor"
        if self.fault:
            return "engine fault"
        if self.state == State.STOPPED or self.admin_stopped:
            return "out of order (stopped by Central)"
        if self.central_link != CentralLink.UP:
            return "central unreachable"
        return None

    # --- inputs -----------------------------------------------------------------------------

    def on_health(self, now: float, health: Health) -> tuple[HealthOk | HealthKo, list[Event]]:
        if self.cp_id is None:
            self.cp_id = health.cp_id
            self.note(f"CP id {health.cp_id} received from the monitor")
        elif health.cp_id != self.cp_id:
            return HealthKo(cp_id=health.cp_id, reason="cp id mismatch"), []
        events: list[Event] = []
        self.price = health.price
        self.last_health = now
        if health.central_link != self.central_link:
            if health.central_link == CentralLink.UP:
                self.note("Central link UP")
            elif self.central_link is None:
                self.note("Waiting for the monitor to reach CENTRAL")
            else:
                self.note("Cannot reach CENTRAL: no new supply until it is back")
            self.central_link = health.central_link
        if self.state == State.ISOLATED:
            self._go(self._rest_state())
            self.note("Monitor connected: health checks resumed")
        stopped = health.admin_state == AdminState.STOPPED
        command = self._last_command
        lagging = (
            command is not None
            and now - command[0] < self.config.health_admin_lag
            and command[1] != stopped
        )  # e.g. the STOPPED of a Stop that a later Resume command already undid
        if health.admin_state != self._last_health_admin and not lagging:
            self._last_health_admin = health.admin_state
            if stopped:
                events += self.on_stop(now)
            else:
                events += self.on_resume(now)
        if self.fault:
            return HealthKo(cp_id=self.cp_id, reason=self.fault_reason or "engine fault"), events
        return HealthOk(cp_id=self.cp_id, engine_state=self.state), events

    def on_authorize(self, now: float, cmd: Authorize) -> list[Event]:
        if self.cp_id is None or cmd.cp_id != self.cp_id:
            log.info("authorize for %s ignored (this CP is %s)", cmd.cp_id, self.cp_id)
            return []
        current = self.authorization or self.supply
        if current is not None and current.session_id == cmd.session_id:
            return []  # a redelivery of the command we are already serving
        reason = self._not_available()
        if reason is None and current is not None:
            reason = "busy"
        if reason is not None:
            self.note(f"Authorization for driver {cmd.driver_id} rejected: {reason}")
            return [
                AuthorizationRejected(
                    session_id=cmd.session_id, cp_id=self.cp_id, reason=reason, ts=self._ts()
                )
            ]
        window = self.config.auth_timeout
        try:
            remaining = (parse_ts(cmd.expires_at) - self.wall()).total_seconds()
            window = min(window, remaining)
        except ValueError:
            log.warning(
                "authorize with a bad expires_at %r; using the local timeout", cmd.expires_at
            )
        if window <= 0:
            self.note(f"Authorization for driver {cmd.driver_id} arrived already expired")
            return [
                AuthorizationExpired(
                    session_id=cmd.session_id,
                    cp_id=self.cp_id,
                    reason="expired before it reached the CP",
                    ts=self._ts(),
                )
            ]
        self.authorization = Authorization(
            session_id=cmd.session_id,
            request_id=cmd.request_id,
            driver_id=cmd.driver_id,
            price=cmd.price,
            granted_at=now,
            deadline=now + window,
        )
        self._go(State.AUTHORIZED)
        self.note(f"Driver {cmd.driver_id} authorized: plug in within {window:.0f} s")
        return []

    def on_stop(self, now: float, *, issued_at: str | None = None) -> list[Event]:
        if not self._admin_command(now, issued_at, stopped=True):
            return []
        events: list[Event] = []
        was_stopped = self.admin_stopped
        self.admin_stopped = True
        if self.supply is not None:
            events += self._end_supply(now, EndReason.STOPPED)
        events += self._cancel_authorization("stopped by Central")
        if self.state != State.ISOLATED:
            self._go(State.STOPPED)
        if not was_stopped:
            self.note("Stopped by Central: out of order")
        return events

    def on_resume(self, now: float, *, issued_at: str | None = None) -> list[Event]:
        if not self._admin_command(now, issued_at, stopped=False):
            return []
        was_stopped = self.admin_stopped
        self.admin_stopped = False
        if self.state == State.STOPPED:
            self._go(State.IDLE)
        if was_stopped:
            self.note("Resumed by Central: back in service")
        return []

    def _admin_command(self, now: float, issued_at: str | None, *, stopped: bool) -> bool:
        """Whether to obey a stop (``stopped``) or resume: not when it is stale (HEALTH
        carries the current admin state); one from Kafka (``issued_at``) is remembered."""
        if self._stale(issued_at):
            what = "stop" if stopped else "resume"
            log.info("stale %s command ignored; HEALTH carries the current admin state", what)
            return False
        if issued_at is not None:
            self._last_command = (now, stopped)
        return True

    def _stale(self, issued_at: str | None) -> bool:
        if issued_at is None:
            return False
        try:
            age = (self.wall() - parse_ts(issued_at)).total_seconds()
        except ValueError:
            return False
        return age > self.config.stale_command_age

    def check_manual_request(self) -> None:
        """Raise Refused when a manual charge request may not be sent from this CP now."""
        reason = self._not_available()
        if reason is None and (self.authorization or self.supply):
            reason = "busy with another driver"
        if reason is not None:
            raise Refused(f"Manual supply refused: {reason}")

    def plug(self, now: float) -> list[Event]:
        if self.supply is not None:
            raise Refused("A vehicle is already plugged in and charging")
        auth = self.authorization
        if auth is None:
            raise Refused("Nothing to plug in for: no driver is authorized at this CP")
        reason = self._not_available()
        if reason is not None:
            raise Refused(f"Cannot start the supply: {reason}")
        self.authorization = None
        started_at = self._ts()
        self.supply = Supply(
            session_id=auth.session_id,
            driver_id=auth.driver_id,
            price=auth.price,
            started_at=started_at,
            started_mono=now,
            last_meter=now,
            next_progress=now + self.config.progress_interval,
            metered_at=started_at,
        )
        self._go(State.SUPPLYING)
        self.note(f"Vehicle plugged in: supplying driver {auth.driver_id}")
        return [
            SupplyStarted(
                session_id=auth.session_id,
                cp_id=self.cp_id or "",
                driver_id=auth.driver_id,
                started_at=started_at,
                ts=started_at,
            )
        ]

    def unplug(self, now: float) -> list[Event]:
        if self.supply is None:
            raise Refused("No vehicle is plugged in")
        events = self._end_supply(now, EndReason.UNPLUGGED)
        self._go(self._rest_state())
        return events

    def set_fault(self, now: float, faulty: bool, reason: str = "engine fault") -> list[Event]:
        events: list[Event] = []
        if faulty and not self.fault:
            self.fault = True
            self.fault_reason = reason
            self.note(f"FAULT: {reason} (HEALTH answers KO)")
            if self.supply is not None:
                events += self._end_supply(now, EndReason.FAULT)
            events += self._cancel_authorization("engine fault")
            if self.state in (State.SUPPLYING, State.AUTHORIZED):
                self._go(self._rest_state())
        elif not faulty and self.fault:
            self.fault = False
            self.fault_reason = ""
            self.note("Repaired: HEALTH answers OK")
        return events

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        if (
            self.state != State.ISOLATED
            and self.last_health is not None
            and now - self.last_health > self.config.isolation_timeout
        ):
            if self.supply is not None:
                events += self._end_supply(now, EndReason.MONITOR_LOST)
            events += self._cancel_authorization("monitor lost")
            self._go(State.ISOLATED)
            self.note("ISOLATED: no HEALTH from the monitor; no supply until it is back")
        supply = self.supply
        if supply is not None:
            self._meter(now)
            if now >= supply.next_progress:
                supply.seq += 1
                supply.next_progress += self.config.progress_interval
                if supply.next_progress <= now:  # fell behind (e.g. a stalled thread)
                    supply.next_progress = now + self.config.progress_interval
                events.append(
                    SupplyProgress(
                        session_id=supply.session_id,
                        cp_id=self.cp_id or "",
                        driver_id=supply.driver_id,
                        seq=supply.seq,
                        kw=self.config.power_kw,
                        kwh=supply.kwh,
                        eur=supply.eur,
                        ts=self._ts(),
                    )
                )
        auth = self.authorization
        if auth is not None and now >= auth.deadline:
            self.authorization = None
            self._go(self._rest_state())
            self.note(f"Authorization for driver {auth.driver_id} expired: not plugged in in time")
            events.append(
                AuthorizationExpired(
                    session_id=auth.session_id, cp_id=self.cp_id or "", ts=self._ts()
                )
            )
        return events

    # --- views ------------------------------------------------------------------------------

    def journal_record(self) -> dict[str, Any] | None:
        """The running supply as the journal stores it, or None."""
        supply = self.supply
        if supply is None:
            return None
        return {
            "status": "running",
            "session_id": supply.session_id,
            "cp_id": self.cp_id,
            "driver_id": supply.driver_id,
            "price": supply.price,
            "started_at": supply.started_at,
            "kwh_exact": supply.kwh_exact,
            "seq": supply.seq,
            "metered_at": supply.metered_at,
        }

    def snapshot(self, now: float) -> Snapshot:
        supply, auth = self.supply, self.authorization
        return Snapshot(
            cp_id=self.cp_id,
            state=self.state,
            fault=self.fault,
            central_link=self.central_link,
            admin_stopped=self.admin_stopped,
            price=self.price,
            power_kw=self.config.power_kw,
            driver_id=supply.driver_id if supply else auth.driver_id if auth else None,
            session_id=supply.session_id if supply else auth.session_id if auth else None,
            kw=self.config.power_kw if supply else 0.0,
            kwh=supply.kwh if supply else 0.0,
            eur=supply.eur if supply else 0.0,
            auth_seconds_left=max(0.0, auth.deadline - now) if auth else None,
            monitor_seen=self.last_health is not None,
        )


def ended_from_record(record: dict[str, Any]) -> SupplyEnded:
    """The ``supply_ended`` (reason engine_restart) for a supply a dead engine left running."""
    kwh_exact = float(record["kwh_exact"])
    price = float(record["price"])
    return SupplyEnded(
        session_id=str(record["session_id"]),
        cp_id=str(record["cp_id"]),
        driver_id=str(record["driver_id"]),
        kwh=round_kwh(kwh_exact),
        eur=amount_eur(kwh_exact, price),
        started_at=str(record["started_at"]),
        ended_at=str(record["metered_at"]),
        reason=EndReason.ENGINE_RESTART,
    )
