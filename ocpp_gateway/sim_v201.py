"""A simulated OCPP 2.0.1 charging station, on the ``ocpp`` library's v201 ``ChargePoint``:
``python -m ocpp_gateway.sim --ocpp-version 2.0.1`` and the tests.

It behaves as the 1.6J ``SimCharger`` (``ocpp_gateway.sim``) in 2.0.1's words, with the
same methods and attributes so the tests drive either: it boots, reports its EVSE 1
Available, beats, accepts RequestStartTransaction (TransactionEvent Started with the
Transaction.Begin reading, Updated every second with the energy register in Wh and the
power in W, Ended EVDisconnected after ``charge_seconds``, the Transaction.End reading),
RequestStopTransaction (Ended Remote) and ChangeAvailability (StatusNotification
Unavailable/Available, Scheduled while charging).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    ChangeAvailabilityStatusEnumType,
    ConnectorStatusEnumType,
    ReasonEnumType,
    RegistrationStatusEnumType,
    RequestStartStopStatusEnumType,
    TransactionEventEnumType,
    TriggerReasonEnumType,
)

from ocpp_gateway.sim_common import SimBehaviour
from wire.timefmt import now_ts as iso_now

EVSE = {"id": 1, "connector_id": 1}


def meter_value(wh: float, watts: float | None = None, context: str = "Sample.Periodic") -> list:
    """One 2.0.1 ``meterValue`` entry: the energy register (Wh) and the power (W)."""
    samples: list[dict[str, Any]] = [
        {
            "value": int(wh),  # as the 1.6 simulator: whole Wh
            "measurand": "Energy.Active.Import.Register",
            "context": context,
            "unit_of_measure": {"unit": "Wh"},
        }
    ]
    if watts is not None:
        samples.append(
            {
                "value": int(watts),
                "measurand": "Power.Active.Import",
                "context": context,
                "unit_of_measure": {"unit": "W"},
            }
        )
    return [{"timestamp": iso_now(), "sampled_value": samples}]


class SimCharger201(SimBehaviour, ChargePoint):
    def __init__(
        self,
        cp_id: str,
        connection: Any,
        *,
        power_kw: float = 22.0,
        speed: float = 1.0,
        charge_seconds: float = 8.0,
        meter_wh: float = 0.0,
    ) -> None:
        ChargePoint.__init__(self, cp_id, connection, response_timeout=15)
        self._sim_setup(power_kw, speed, charge_seconds, meter_wh)
        self.transaction_id: str | None = None
        self._seq = 0  # the transaction's seqNo

    # --- the gateway's calls -----------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **_: Any
    ) -> call_result.RequestStartTransaction:
        self.received.append("RequestStartTransaction")
        if self.charging():
            return call_result.RequestStartTransaction(
                status=RequestStartStopStatusEnumType.rejected
            )
        self._charging = asyncio.get_running_loop().create_task(
            self.charge(id_token["id_token"], remote_start_id)
        )
        return call_result.RequestStartTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action.request_stop_transaction)
    def on_request_stop(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        self.received.append("RequestStopTransaction")
        if self.transaction_id != transaction_id or self._charging is None:
            return call_result.RequestStopTransaction(
                status=RequestStartStopStatusEnumType.rejected
            )
        self._remote_stop.set()
        return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, **_: Any
    ) -> call_result.ChangeAvailability:
        self.received.append(f"ChangeAvailability {operational_status}")
        self.operative = operational_status == "Operative"
        if self.charging():
            # the change waits for the transaction's end, as in 1.6
            return call_result.ChangeAvailability(status=ChangeAvailabilityStatusEnumType.scheduled)
        asyncio.get_running_loop().create_task(self.status(self.idle_status))
        return call_result.ChangeAvailability(status=ChangeAvailabilityStatusEnumType.accepted)

    @property
    def idle_status(self) -> str:
        if self.operative:
            return ConnectorStatusEnumType.available.value
        return ConnectorStatusEnumType.unavailable.value

    # --- what a charging station does --------------------------------------------------------

    async def boot(self) -> str:
        answer = await self.call(
            call.BootNotification(
                charging_station={"model": "Sim-2", "vendor_name": "EVCharging"},
                reason="PowerUp",
            )
        )
        self.boot_interval = answer.interval  # Pending, Rejected: when to boot again
        if answer.status == RegistrationStatusEnumType.accepted:
            self.interval = answer.interval
        return answer.status

    async def status(self, status: str, *_: Any) -> None:
        """StatusNotification of EVSE 1 (a 1.6 status word that 2.0.1 lacks reads as the
        nearest: Preparing…Finishing are Occupied)."""
        words = {s.value for s in ConnectorStatusEnumType}
        connector_status = str(status) if str(status) in words else "Occupied"
        await self.call(
            call.StatusNotification(
                timestamp=iso_now(), connector_status=connector_status, evse_id=1, connector_id=1
            )
        )

    async def heartbeat(self) -> None:
        await self.call(call.Heartbeat())

    async def authorize(self, id_tag: str) -> str:
        """An idToken presented at the station (a driver's card)."""
        answer = await self.call(call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
        return answer.id_token_info["status"]

    async def _event(self, kind: str, trigger: str, **fields: Any) -> Any:
        assert self.transaction_id is not None
        info = {"transaction_id": self.transaction_id, **fields.pop("info", {})}
        answer = await self.call(
            call.TransactionEvent(
                event_type=kind,
                timestamp=iso_now(),
                trigger_reason=trigger,
                seq_no=self._seq,
                transaction_info=info,
                evse=EVSE,
                **fields,
            )
        )
        self._seq += 1
        return answer

    async def start_transaction(self, id_tag: str, remote_start_id: int | None = None) -> bool:
        self.transaction_id, self._seq = uuid.uuid4().hex, 0
        info: dict[str, Any] = {"charging_state": "Charging"}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        answer = await self._event(
            TransactionEventEnumType.started,
            TriggerReasonEnumType.remote_start
            if remote_start_id is not None
            else TriggerReasonEnumType.authorized,
            info=info,
            id_token={"id_token": id_tag, "type": "Central"},
            meter_value=meter_value(self.meter_wh, context="Transaction.Begin"),
        )
        return (answer.id_token_info or {}).get("status") == "Accepted"

    async def send_meter(self) -> None:
        await self._event(
            TransactionEventEnumType.updated,
            TriggerReasonEnumType.meter_value_periodic,
            info={"charging_state": "Charging"},
            meter_value=meter_value(self.meter_wh, self.power_kw * 1000),
        )

    async def stop_transaction(self, reason: str = ReasonEnumType.ev_disconnected) -> None:
        trigger = (
            TriggerReasonEnumType.remote_stop
            if reason == ReasonEnumType.remote
            else TriggerReasonEnumType.ev_communication_lost
        )
        await self._event(
            TransactionEventEnumType.ended,
            trigger,
            info={"stopped_reason": reason, "charging_state": "Idle"},
            meter_value=meter_value(self.meter_wh, context="Transaction.End"),
        )
        self.transaction_id = None

    async def charge(self, id_tag: str, remote_start_id: int | None = None) -> None:
        """Plug in, charge ``charge_seconds`` (energy × ``speed``), unplug."""
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._charge(id_tag, remote_start_id)

    async def _charge(self, id_tag: str, remote_start_id: int | None) -> None:
        await self.status(ConnectorStatusEnumType.occupied)
        if not await self.start_transaction(id_tag, remote_start_id):
            await self.stop_transaction(ReasonEnumType.de_authorized)
            await self.status(self.idle_status)
            return
        stopped = await self.run_meter()
        await self.stop_transaction(
            ReasonEnumType.remote if stopped else ReasonEnumType.ev_disconnected
        )
        await self.status(self.idle_status)
