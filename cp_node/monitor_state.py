"""What the monitor knows and what it still owes Central (no I/O).

The health loop records each HEALTH outcome with ``on_check``; the Central loop asks
``next_report`` for the FAULT or RECOVERED a transition calls for, and ``mark_reported`` once
Central answered NOTED. After a (re)connection ``on_session`` forgets what was reported, so a
fault that began while Central was away is reported on the new session.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.health_messages import CentralLink, EngineState
from wire.tcp_messages import AdminState, EngineHealth, Fault, Recovered


@dataclass
class MonitorState:
    cp_id: str
    engine: EngineHealth = EngineHealth.UNREACHABLE
    engine_state: EngineState | None = None
    engine_reason: str = "not checked yet"
    central_link: CentralLink = CentralLink.DOWN
    admin_state: AdminState = AdminState.ACTIVE
    price: float = 0.0
    reported: EngineHealth | None = None
    checks: int = 0

    def on_check(
        self, health: EngineHealth, *, state: EngineState | None = None, reason: str = ""
    ) -> bool:
        """Record one HEALTH outcome; True when the engine's health kind or reason changed."""
        changed = (health, reason) != (self.engine, self.engine_reason) or self.checks == 0
        self.engine, self.engine_state, self.engine_reason = health, state, reason
        self.checks += 1
        return changed

    def fault_reason(self) -> str:
        if self.engine == EngineHealth.UNREACHABLE:
            return "engine unreachable"
        return f"engine KO: {self.engine_reason}" if self.engine_reason else "engine KO"

    def next_report(self) -> Fault | Recovered | None:
        if self.engine == EngineHealth.OK:
            if self.reported in (EngineHealth.KO, EngineHealth.UNREACHABLE):
                return Recovered(cp_id=self.cp_id)
            return None
        if self.checks == 0:
            return None  # nothing known yet; the heartbeat says UNREACHABLE meanwhile
        if self.reported != self.engine:
            return Fault(cp_id=self.cp_id, reason=self.fault_reason())
        return None

    def mark_reported(self, report: Fault | Recovered) -> None:
        if isinstance(report, Recovered):
            self.reported = EngineHealth.OK
        elif report.reason == "engine unreachable":
            self.reported = EngineHealth.UNREACHABLE
        else:
            self.reported = EngineHealth.KO

    def on_session(self) -> None:
        self.reported = None
