"""What the simulated chargers of both OCPP versions share (``ocpp_gateway.sim`` for 1.6J,
``ocpp_gateway.sim_v201`` for 2.0.1): their state, the heartbeat, and the charging itself —
a meter that turns at ``power_kw`` × ``speed``, one reading a second, until
``charge_seconds`` have passed or the gateway asks for a stop. Each version's class says it
in its own messages (``send_meter``, the heartbeat's ``Heartbeat`` call).

A simulated charger has ``connectors`` connectors (1 by default), each with its own meter,
transaction and charging (``SimConnector``; 2.0.1: EVSE n with its connector 1). The
attributes of connector 1 are also the charger's own (``meter_wh``, ``transaction_id``…),
as they were before a charger had several."""

from __future__ import annotations

import asyncio
from typing import Any


class SimConnector:
    """One connector: its meter (Wh), its transaction, its charging task, the gateway's stop."""

    def __init__(self, number: int, meter_wh: float = 0.0) -> None:
        self.number = number
        self.meter_wh = meter_wh
        self.transaction_id: Any = None  # 1.6: the gateway's number; 2.0.1: the charger's id
        self.seq = 0  # 2.0.1: the transaction's seqNo
        self.operative = True
        self.charging: asyncio.Task[None] | None = None
        self.remote_stop = asyncio.Event()  # the gateway's stop for the running transaction


class SimBehaviour:
    """A mixin before the ``ocpp`` library's ``ChargePoint`` of one version; its ``__init__``
    serves both versions' chargers."""

    def __init__(
        self,
        cp_id: str,
        connection: Any,
        *,
        power_kw: float = 22.0,
        speed: float = 1.0,
        charge_seconds: float = 8.0,
        meter_wh: float = 0.0,
        connectors: int = 1,
    ) -> None:
        # the version's ``ChargePoint``, next in the subclass's MRO
        super().__init__(cp_id, connection, response_timeout=15)
        self.power_kw, self.speed, self.charge_seconds = power_kw, speed, charge_seconds
        self.connectors = {n: SimConnector(n, meter_wh) for n in range(1, connectors + 1)}
        self.interval = 30
        self.boot_interval = 0  # the last BootNotification.conf's interval, whatever its status
        self.received: list[str] = []  # actions the gateway called, in order

    # connector 1's state, the charger's own when it has one connector

    @property
    def meter_wh(self) -> float:
        return self.connectors[1].meter_wh

    @meter_wh.setter
    def meter_wh(self, wh: float) -> None:
        self.connectors[1].meter_wh = wh

    @property
    def transaction_id(self) -> Any:
        return self.connectors[1].transaction_id

    @transaction_id.setter
    def transaction_id(self, value: Any) -> None:
        self.connectors[1].transaction_id = value

    @property
    def operative(self) -> bool:
        return self.connectors[1].operative

    async def send_meter(self, connector: int = 1) -> None:
        raise NotImplementedError

    async def heartbeat(self) -> Any:
        raise NotImplementedError

    async def beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.heartbeat()

    def charging(self, connector: int = 1) -> bool:
        task = self.connectors[connector].charging
        return task is not None and not task.done()

    def free_connector(self, wanted: int | None) -> SimConnector | None:
        """The connector a remote start asks for (any free one when it names none), if it
        exists and is not charging."""
        numbers = [wanted] if wanted else list(self.connectors)
        for n in numbers:
            if n in self.connectors and not self.charging(n):
                return self.connectors[n]
        return None

    def start_charging(self, connector: SimConnector, coro: Any) -> None:
        connector.charging = asyncio.get_running_loop().create_task(coro)

    def idle_status(self, connector: int = 1) -> Any:
        raise NotImplementedError

    async def status(self, status: Any, *_: Any, connector: int = 1) -> None:
        raise NotImplementedError

    def change_availability(self, wanted: int | None, operative: bool) -> bool | None:
        """A ChangeAvailability of connector ``wanted`` (of all when it names none, as
        connector 0 / no EVSE does): None when there is no such connector, else whether the
        change is scheduled. A charging connector keeps charging and the change waits for the
        transaction's end (OCPP 1.6 §5.2, the same in 2.0.1); the others report their new
        idle status at once."""
        if wanted and wanted not in self.connectors:
            return None
        scheduled = False
        for n in [wanted] if wanted else list(self.connectors):
            self.connectors[n].operative = operative
            if self.charging(n):
                scheduled = True
            else:
                loop = asyncio.get_running_loop()
                loop.create_task(self.status(self.idle_status(n), connector=n))
        return scheduled

    def stop_all(self) -> None:
        """End every connector's charging task (a killed charger)."""
        for connector in self.connectors.values():
            if connector.charging is not None:
                connector.charging.cancel()

    async def run_meter(self, connector: int = 1) -> bool:
        """Charge for ``charge_seconds``, a reading each second; True when the gateway's stop
        ended it first."""
        state = self.connectors[connector]
        state.remote_stop.clear()
        for _ in range(int(self.charge_seconds)):
            try:
                async with asyncio.timeout(1.0):
                    await state.remote_stop.wait()
                return True
            except TimeoutError:
                pass
            state.meter_wh += self.power_kw * 1000 * self.speed / 3600
            await self.send_meter(connector)
        return False
