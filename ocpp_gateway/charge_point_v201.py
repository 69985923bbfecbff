"""The OCPP 2.0.1 messages a charging station sends, routed by the ``ocpp`` library.

``GatewayChargePoint201`` is the library's v201 ``ChargePoint`` with one ``@on`` handler per
action, beside the 1.6J one (``ocpp_gateway.charge_point``) and built the same way: each
handler translates the library's payload into the ``Point``'s words, which are the same for
both versions — a BootNotification is a boot, a StatusNotification a connector status, an
Authorize an idTag, a TransactionEvent the start, meter values and stop of 1.6
(``mapping.transaction_event`` → ``Station.on_transaction_event``).

What 2.0.1 words differently: the charger names its transactions (``transactionId``, a
string); statuses are Available/Occupied/Reserved/Unavailable/Faulted per EVSE, with no
error code (EVSE n is connector n's CP, EVSE 0 the whole station; connector 1 of each EVSE);
RequestStart/StopTransaction and ChangeAvailability (``operationalStatus``, of the CP's
EVSE) are the gateway's calls.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    IdTokenEnumType,
    OperationalStatusEnumType,
    RegistrationStatusEnumType,
)

from ocpp_gateway import mapping
from ocpp_gateway.charge_point import GatewayConnection
from ocpp_gateway.station import CONNECTOR, Call, RemoteStart, RemoteStop
from wire.timefmt import now_ts


def _id_token_info(accepted: bool) -> dict[str, str]:
    status = (
        AuthorizationStatusEnumType.accepted if accepted else AuthorizationStatusEnumType.invalid
    )
    return {"status": status.value}


class GatewayChargePoint201(GatewayConnection, ChargePoint):
    """An OCPP 2.0.1 charging station (subprotocol ``ocpp2.0.1``)."""

    version = "2.0.1"

    def payload(self, request: Call, connector: int = CONNECTOR) -> Any:
        if isinstance(request, RemoteStart):
            return call.RequestStartTransaction(
                id_token={"id_token": request.id_tag, "type": IdTokenEnumType.central.value},
                remote_start_id=request.remote_start_id,
                evse_id=connector,
            )
        if isinstance(request, RemoteStop):
            return call.RequestStopTransaction(transaction_id=request.charger_tx)
        status = (
            OperationalStatusEnumType.operative
            if request.operative
            else OperationalStatusEnumType.inoperative
        )
        return call.ChangeAvailability(operational_status=status, evse={"id": connector})

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **_: Any
    ) -> call_result.BootNotification:
        status = await self.point.boot(
            str(charging_station.get("vendor_name", "")), str(charging_station.get("model", ""))
        )
        return call_result.BootNotification(
            current_time=now_ts(),
            interval=max(1, round(self.point.gateway.heartbeat_interval)),
            status=RegistrationStatusEnumType(status),
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        # once the answer left: a call before it would reach a charger not yet accepted
        self.point.booted(self)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now_ts())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> call_result.StatusNotification:
        # EVSE n is connector n's CP, EVSE 0 the station as a whole; no error code
        self.point.status(evse_id, connector_status, "", None)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> call_result.Authorize:
        accepted = await self.point.authorize(str(id_token.get("id_token", "")))
        return call_result.Authorize(id_token_info=_id_token_info(accepted))

    @on(Action.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        transaction_info: dict[str, Any],
        id_token: dict[str, Any] | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        offline: bool = False,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> call_result.TransactionEvent:
        event = mapping.transaction_event(
            event_type, timestamp, transaction_info, id_token, meter_value, offline
        )
        evse_id = evse.get("id") if evse else None
        verdict = self.point.transaction_event(event, evse_id if isinstance(evse_id, int) else None)
        if verdict is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info=_id_token_info(verdict))

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        # readings outside a transaction (2.0.1 sends a transaction's in TransactionEvent)
        return call_result.MeterValues()

    @on(Action.notify_event)
    def on_notify_event(self, **_: Any) -> call_result.NotifyEvent:
        # monitoring events (a station's problems also come as StatusNotification Faulted)
        return call_result.NotifyEvent()
