"""``Timers``: the owner's clock. Every ``TICK`` the pair's lease is checked, then the
watchdog and the sessions' deadlines run; once a second the ``Pulse``; every few seconds the
registry refresh; less often the books' reconciliation and the state history's pruning.

A deposed Central (it lost the pair's lease) runs none of them: it serves nothing and writes
nothing."""

from __future__ import annotations

import asyncio
import logging
import time

from central_app.hub import Hub
from central_app.monitor_port import MonitorPort
from central_app.monitors import MonitorDesk
from central_app.pair_role import PairRole
from central_app.pulse import Pulse
from central_app.registry_refresh import REFRESH_SECONDS, RegistryRefresh
from central_app.supplies import SupplyDesk
from central_app.upkeep import Upkeep
from central_app.watchdog import Watchdog

log = logging.getLogger(__name__)

TICK = 0.25
PRUNE_EVERY_S = 6 * 3600.0  # the state history's retention, applied this often
PRUNE_FIRST_S = 3600.0  # and first an hour after the start (not during its storm)


class Timers:
    def __init__(
        self,
        hub: Hub,
        monitors: MonitorDesk,
        supplies: SupplyDesk,
        *,
        pair: PairRole,
        port: MonitorPort,
        pulse: Pulse,
        registry: RegistryRefresh,
        upkeep: Upkeep,
        reconcile_every: float,
    ) -> None:
        self._hub = hub
        self._monitors = monitors
        self._supplies = supplies
        self._pair = pair
        self._port = port
        self._pulse = pulse
        self._registry = registry
        self._upkeep = upkeep
        self._reconcile_every = reconcile_every

    async def run(self) -> None:
        """On the owner until cancelled; a step that fails is logged and the next one runs."""
        last_second = 0.0
        last_refresh = last_reconcile = time.monotonic()
        last_prune = last_refresh - PRUNE_EVERY_S + PRUNE_FIRST_S
        watchdog = Watchdog(
            self._hub, self._monitors, self._supplies, period=TICK, started=last_refresh
        )
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            try:
                self._pair.check(now, self._hub, self._monitors, self._port.server)
                if self._pair.deposed.is_set():
                    continue  # a deposed Central serves nothing and writes nothing
                watchdog.tick(now)  # leaves Central's own pauses out
                if now - last_second >= 1.0:
                    last_second = now
                    self._pulse.every_second()
                if now - last_refresh >= REFRESH_SECONDS:
                    last_refresh = now
                    self._registry.refresh()
                if now - last_reconcile >= self._reconcile_every:
                    last_reconcile = now
                    self._upkeep.reconcile()
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    self._upkeep.prune_state_history()
            except Exception:
                log.exception("timer step failed")
