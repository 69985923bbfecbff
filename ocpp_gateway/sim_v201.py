"""A simulated OCPP 2.0.1 charging station, on the ``ocpp`` library's v201 ``ChargePoint``:
``python -m ocpp_gateway.sim --ocpp-version 2.0.1`` and the tests.

It behaves as the 1.6J ``SimCharger`` (``ocpp_gateway.sim``) in 2.0.1's words, with the
same methods and attributes so the tests drive either: it boots, reports each EVSE
Available, beats, accepts RequestStartTransaction on a free EVSE (TransactionEvent Started
with the Transaction.Begin reading, Updated every second with the energy register in Wh and
the power in W, Ended EVDisconnected after ``charge_seconds``, the Transaction.End reading),
RequestStopTransaction (Ended Remote) and ChangeAvailability of an EVSE or of the station
(StatusNotification Unavailable/Available, Scheduled while charging). EVSE n has one
connector (connector 1); the "connector" of the 1.6 simulator's methods is the EVSE.
"""

from __future__ import annotations

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

from ocpp_gateway.sim_common import SimBehaviour, SimConnector
from wire.timefmt import now_ts as iso_now


def evse(n: int) -> dict[str, int]:
    return {"id": n, "connector_id": 1}


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
    """The 2.0.1 charger; ``SimBehaviour.__init__`` builds it (same arguments for both)."""

    # --- the gateway's calls -----------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> call_result.RequestStartTransaction:
        self.received.append("RequestStartTransaction")
        connector = self.free_connector(evse_id)
        if connector is None:
            return call_result.RequestStartTransaction(
                status=RequestStartStopStatusEnumType.rejected
            )
        self.start_charging(
            connector, self.charge(id_token["id_token"], remote_start_id, connector.number)
        )
        return call_result.RequestStartTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action.request_stop_transaction)
    def on_request_stop(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        self.received.append("RequestStopTransaction")
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id and connector.charging is not None:
                connector.remote_stop.set()
                return call_result.RequestStopTransaction(
                    status=RequestStartStopStatusEnumType.accepted
                )
        return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType.rejected)

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> call_result.ChangeAvailability:
        self.received.append(f"ChangeAvailability {operational_status}")
        wanted = evse.get("id") if evse else None
        scheduled = self.change_availability(wanted, operational_status == "Operative")
        if scheduled is None:
            return call_result.ChangeAvailability(status=ChangeAvailabilityStatusEnumType.rejected)
        status = (
            ChangeAvailabilityStatusEnumType.scheduled
            if scheduled
            else ChangeAvailabilityStatusEnumType.accepted
        )
        return call_result.ChangeAvailability(status=status)

    def idle_status(self, connector: int = 1) -> str:
        if self.connectors[connector].operative:
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

    async def status(self, status: str, *_: Any, connector: int = 1) -> None:
        """StatusNotification of an EVSE (0: the station as a whole; a 1.6 status word that
        2.0.1 lacks reads as the nearest: Preparing…Finishing are Occupied)."""
        words = {s.value for s in ConnectorStatusEnumType}
        connector_status = str(status) if str(status) in words else "Occupied"
        await self.call(
            call.StatusNotification(
                timestamp=iso_now(),
                connector_status=connector_status,
                evse_id=connector,
                connector_id=1 if connector else 0,
            )
        )

    async def heartbeat(self) -> None:
        await self.call(call.Heartbeat())

    async def authorize(self, id_tag: str) -> str:
        """An idToken presented at the station (a driver's card)."""
        answer = await self.call(call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
        return answer.id_token_info["status"]

    async def _event(self, kind: str, trigger: str, state: SimConnector, **fields: Any) -> Any:
        assert state.transaction_id is not None
        info = {"transaction_id": state.transaction_id, **fields.pop("info", {})}
        answer = await self.call(
            call.TransactionEvent(
                event_type=kind,
                timestamp=iso_now(),
                trigger_reason=trigger,
                seq_no=state.seq,
                transaction_info=info,
                evse=evse(state.number),
                **fields,
            )
        )
        state.seq += 1
        return answer

    async def start_transaction(
        self, id_tag: str, remote_start_id: int | None = None, connector: int = 1
    ) -> bool:
        state = self.connectors[connector]
        state.transaction_id, state.seq = uuid.uuid4().hex, 0
        info: dict[str, Any] = {"charging_state": "Charging"}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        answer = await self._event(
            TransactionEventEnumType.started,
            TriggerReasonEnumType.remote_start
            if remote_start_id is not None
            else TriggerReasonEnumType.authorized,
            state,
            info=info,
            id_token={"id_token": id_tag, "type": "Central"},
            meter_value=meter_value(state.meter_wh, context="Transaction.Begin"),
        )
        return (answer.id_token_info or {}).get("status") == "Accepted"

    async def send_meter(self, connector: int = 1) -> None:
        state = self.connectors[connector]
        await self._event(
            TransactionEventEnumType.updated,
            TriggerReasonEnumType.meter_value_periodic,
            state,
            info={"charging_state": "Charging"},
            meter_value=meter_value(state.meter_wh, self.power_kw * 1000),
        )

    async def stop_transaction(
        self, reason: str = ReasonEnumType.ev_disconnected, connector: int = 1
    ) -> None:
        state = self.connectors[connector]
        trigger = (
            TriggerReasonEnumType.remote_stop
            if reason == ReasonEnumType.remote
            else TriggerReasonEnumType.ev_communication_lost
        )
        await self._event(
            TransactionEventEnumType.ended,
            trigger,
            state,
            info={"stopped_reason": reason, "charging_state": "Idle"},
            meter_value=meter_value(state.meter_wh, context="Transaction.End"),
        )
        state.transaction_id = None

    async def charge(
        self, id_tag: str, remote_start_id: int | None = None, connector: int = 1
    ) -> None:
        """Plug in, charge ``charge_seconds`` (energy × ``speed``), unplug."""
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._charge(id_tag, remote_start_id, connector)

    async def _charge(self, id_tag: str, remote_start_id: int | None, n: int) -> None:
        await self.status(ConnectorStatusEnumType.occupied, connector=n)
        if not await self.start_transaction(id_tag, remote_start_id, n):
            await self.stop_transaction(ReasonEnumType.de_authorized, n)
            await self.status(self.idle_status(n), connector=n)
            return
        stopped = await self.run_meter(n)
        await self.stop_transaction(
            ReasonEnumType.remote if stopped else ReasonEnumType.ev_disconnected, n
        )
        await self.status(self.idle_status(n), connector=n)
