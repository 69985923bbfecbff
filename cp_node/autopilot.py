"""The autopilot: plays the technician for unattended runs (no I/O).

Plug in ``plug_delay`` seconds after an authorization; unplug after ``unplug_after`` seconds
of supply or once ``unplug_kwh`` kWh were delivered, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cp_node.engine_state import EngineMachine, State


class Action(StrEnum):
    PLUG = "plug"
    UNPLUG = "unplug"


@dataclass(frozen=True)
class AutopilotPolicy:
    plug_delay: float = 2.0
    unplug_after: float | None = 10.0
    unplug_kwh: float | None = None

    def decide(self, machine: EngineMachine, now: float) -> Action | None:
        auth, supply = machine.authorization, machine.supply
        if machine.state == State.AUTHORIZED and auth is not None:
            if now - auth.granted_at >= self.plug_delay:
                return Action.PLUG
        elif machine.state == State.SUPPLYING and supply is not None:
            if self.unplug_after is not None and now - supply.started_mono >= self.unplug_after:
                return Action.UNPLUG
            if self.unplug_kwh is not None and supply.kwh_exact >= self.unplug_kwh:
                return Action.UNPLUG
        return None
