"""The charging point state machine, as Central sees one CP. Plain Python: no I/O, no clock.

A CP's status is derived from four facts, each changed only by the inputs below::

    monitor_up   AUTH (True) ........................ link lost / watchdog (False)
    engine       HEARTBEAT#engine, FAULT (KO), RECOVERED (OK); unknown until the 1st heartbeat
    admin        operator stop (STOPPED) / resume (ACTIVE)
    session      authorize (AUTHORIZED) -> supply_started (SUPPLYING) -> supply_ended (none)

    status = DISCONNECTED  if not monitor_up
             BROKEN        elif engine is KO or UNREACHABLE
             SUPPLYING     elif the session is supplying
             STOPPED       elif admin is STOPPED
             ACTIVE        otherwise (an unknown engine counts as OK until a heartbeat says not)

A session can only live on a CP that is connected, healthy and not stopped. When a health or
admin input breaks that, the machine detaches the session and returns an effect: an
authorization not yet used is cancelled (:class:`AuthorizationCancelled`), a running supply is
interrupted (:class:`SupplyInterrupted`; billing then waits for the engine's own
``supply_ended`` and falls back to the last known values). The reason is ``stopped``,
``fault`` or ``monitor_lost``, the ``supply_ended`` reasons of PROTOCOL.md.

A session restored from the database after Central restarted sits on a DISCONNECTED CP
without being interrupted (``restored``): the monitor usually comes back within seconds and
the engine kept supplying meanwhile; the core tickets it from the last known values if not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from central_app.pricing import DEFAULT_PRICE
from central_app.views import CpStatus, CpView
from wire.reasons import EndReason
from wire.tcp_messages import AdminState, EngineHealth


class SessionPhase(StrEnum):
    AUTHORIZED = "authorized"
    SUPPLYING = "supplying"


@dataclass
class CpSession:
    """One authorization and, once plugged in, the supply it became."""

    session_id: str
    driver_id: str
    price: float
    expires_at: str
    request_id: str | None = None
    origin: str = "app"
    authorized_at: str = ""
    phase: SessionPhase = SessionPhase.AUTHORIZED
    started_at: str | None = None
    seq: int = -1
    kw: float = 0.0
    kwh: float = 0.0
    eur: float = 0.0
    last_event: float = 0.0  # monotonic seconds of the last event about this session
    restored: bool = False
    flag: str | None = None  # an implausible reading was refused (central_app.energy_check)
    excused: float = 0.0  # s Central stood still meanwhile: added to its own expiry's grace


@dataclass(frozen=True, slots=True)
class AuthorizationCancelled:
    session: CpSession
    reason: EndReason


@dataclass(frozen=True, slots=True)
class SupplyInterrupted:
    session: CpSession
    reason: EndReason


Effect = AuthorizationCancelled | SupplyInterrupted


@dataclass(frozen=True, slots=True)
class Transition:
    before: CpStatus
    after: CpStatus
    effects: tuple[Effect, ...] = ()
    accepted: bool = True  # for engine events: did the event match this CP's session?

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass
class CpMachine:
    cp_id: str
    location: str = ""
    x: float | None = None
    y: float | None = None
    price: float = DEFAULT_PRICE
    admin: AdminState = AdminState.ACTIVE
    monitor_up: bool = False
    engine: EngineHealth | None = None
    fault_reason: str = ""
    session: CpSession | None = None
    rated_kw: float | None = None  # None: Central's default (central_app.energy_check)

    # --- derived ------------------------------------------------------------------------

    @property
    def status(self) -> CpStatus:
        if not self.monitor_up:
            return CpStatus.DISCONNECTED
        if self.engine in (EngineHealth.KO, EngineHealth.UNREACHABLE):
            return CpStatus.BROKEN
        if self.session is not None and self.session.phase is SessionPhase.SUPPLYING:
            return CpStatus.SUPPLYING
        if self.admin is AdminState.STOPPED:
            return CpStatus.STOPPED
        return CpStatus.ACTIVE

    @property
    def available(self) -> bool:
        """Can take a new authorization."""
        return self.status is CpStatus.ACTIVE and self.session is None

    def _healthy(self) -> bool:
        return self.monitor_up and self.engine not in (EngineHealth.KO, EngineHealth.UNREACHABLE)

    def view(self) -> CpView:
        s = self.session
        return CpView(
            cp_id=self.cp_id,
            location=self.location,
            x=self.x,
            y=self.y,
            price=self.price,
            status=self.status,
            engine=self.engine.value if (self.engine and self.monitor_up) else None,
            admin_state=self.admin.value,
            driver_id=s.driver_id if s else None,
            session_id=s.session_id if s else None,
            kw=s.kw if s and s.phase is SessionPhase.SUPPLYING else 0.0,
            kwh=s.kwh if s else 0.0,
            eur=s.eur if s else 0.0,
        )

    # --- monitor inputs -----------------------------------------------------------------

    def authenticate(self) -> Transition:
        before = self.status
        self.monitor_up = True
        if self.session is not None:
            self.session.restored = False
        return self._settle(before, self._reason())

    def heartbeat(self, engine: EngineHealth) -> Transition:
        before = self.status
        self.monitor_up = True
        if engine is EngineHealth.OK:
            self.fault_reason = ""
        elif not self.fault_reason:
            self.fault_reason = (
                "engine unreachable" if engine is EngineHealth.UNREACHABLE else "engine KO"
            )
        self.engine = engine
        return self._settle(before, EndReason.FAULT)

    def fault(self, reason: str) -> Transition:
        before = self.status
        self.engine = EngineHealth.KO
        self.fault_reason = reason or "fault"
        return self._settle(before, EndReason.FAULT)

    def recovered(self) -> Transition:
        before = self.status
        self.engine = EngineHealth.OK
        self.fault_reason = ""
        return self._settle(before, EndReason.FAULT)

    def link_lost(self) -> Transition:
        before = self.status
        self.monitor_up = False
        self.engine = None
        return self._settle(before, EndReason.MONITOR_LOST)

    # --- operator inputs ----------------------------------------------------------------

    def stop(self) -> Transition:
        before = self.status
        self.admin = AdminState.STOPPED
        return self._settle(before, EndReason.STOPPED)

    def resume(self) -> Transition:
        before = self.status
        self.admin = AdminState.ACTIVE
        return self._settle(before, EndReason.STOPPED)

    # --- authorization and engine events ------------------------------------------------

    def authorize(self, session: CpSession) -> Transition:
        if not self.available:
            raise ValueError(f"{self.cp_id} cannot take an authorization while {self.status}")
        before = self.status
        self.session = replace(session, phase=SessionPhase.AUTHORIZED)
        return Transition(before, self.status)

    def restore(self, session: CpSession) -> Transition:
        """Re-attach a session found open in the database at start-up."""
        before = self.status
        session.restored = True
        self.session = session
        return Transition(before, self.status)

    def adopt(self, session: CpSession) -> Transition:
        """Attach a supply the engine reports although Central had let it go (late start)."""
        before = self.status
        if self.session is not None:
            return Transition(before, before, accepted=False)
        self.session = session
        return Transition(before, self.status)

    def supply_started(self, session_id: str, started_at: str, now: float) -> Transition:
        before = self.status
        s = self.session
        if s is None or s.session_id != session_id:
            return Transition(before, before, accepted=False)
        s.phase = SessionPhase.SUPPLYING
        s.started_at = s.started_at or started_at
        s.last_event = now
        return Transition(before, self.status)

    def supply_progress(
        self, session_id: str, seq: int, kw: float, kwh: float, eur: float, now: float
    ) -> Transition:
        before = self.status
        s = self.session
        if s is None or s.session_id != session_id:
            return Transition(before, before, accepted=False)
        s.last_event = now
        if seq <= s.seq:  # a redelivered or reordered progress: keep the newest
            return Transition(before, before, accepted=False)
        s.phase = SessionPhase.SUPPLYING
        s.seq, s.kw, s.kwh, s.eur = seq, kw, kwh, eur
        return Transition(before, self.status)

    def end_session(self, session_id: str) -> tuple[Transition, CpSession | None]:
        """supply_ended, authorization_expired or _rejected: detach the session if it is ours."""
        before = self.status
        s = self.session
        if s is None or s.session_id != session_id:
            return Transition(before, before, accepted=False), None
        self.session = None
        return Transition(before, self.status), s

    # --- internals ----------------------------------------------------------------------

    def _reason(self) -> EndReason:
        if not self.monitor_up:
            return EndReason.MONITOR_LOST
        if self.engine in (EngineHealth.KO, EngineHealth.UNREACHABLE):
            return EndReason.FAULT
        return EndReason.STOPPED

    def _settle(self, before: CpStatus, reason: EndReason) -> Transition:
        s = self.session
        holdable = self._healthy() and self.admin is AdminState.ACTIVE
        if s is None or holdable or (s.restored and not self.monitor_up):
            return Transition(before, self.status)
        if not self._healthy():
            reason = self._reason()
        self.session = None
        if s.phase is SessionPhase.AUTHORIZED:
            effect: Effect = AuthorizationCancelled(s, reason)
        else:
            s.kw = 0.0
            effect = SupplyInterrupted(s, reason)
        return Transition(before, self.status, (effect,))
