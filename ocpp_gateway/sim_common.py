"""What the simulated chargers of both OCPP versions share (``ocpp_gateway.sim`` for 1.6J,
``ocpp_gateway.sim_v201`` for 2.0.1): their state, the heartbeat, and the charging itself —
a meter that turns at ``power_kw`` × ``speed``, one reading a second, until
``charge_seconds`` have passed or the gateway asks for a stop. Each version's class says it
in its own messages (``send_meter``, the heartbeat's ``Heartbeat`` call)."""

from __future__ import annotations

import asyncio
from typing import Any


class SimBehaviour:
    """A mixin before the ``ocpp`` library's ``ChargePoint`` of one version."""

    def _sim_setup(
        self, power_kw: float, speed: float, charge_seconds: float, meter_wh: float
    ) -> None:
        self.power_kw, self.speed, self.charge_seconds = power_kw, speed, charge_seconds
        self.meter_wh = meter_wh
        self.interval = 30
        self.boot_interval = 0  # the last BootNotification.conf's interval, whatever its status
        self.received: list[str] = []  # actions the gateway called, in order
        self.operative = True
        self._charging: asyncio.Task[None] | None = None
        self._remote_stop = asyncio.Event()  # the gateway's stop for the running transaction

    async def send_meter(self) -> None:
        raise NotImplementedError

    async def heartbeat(self) -> Any:
        raise NotImplementedError

    async def beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.heartbeat()

    def charging(self) -> bool:
        return self._charging is not None and not self._charging.done()

    async def run_meter(self) -> bool:
        """Charge for ``charge_seconds``, a reading each second; True when the gateway's stop
        ended it first."""
        self._remote_stop.clear()
        for _ in range(int(self.charge_seconds)):
            try:
                async with asyncio.timeout(1.0):
                    await self._remote_stop.wait()
                return True
            except TimeoutError:
                pass
            self.meter_wh += self.power_kw * 1000 * self.speed / 3600
            await self.send_meter()
        return False
