"""The OCPP 1.6J messages a charge point sends, routed by the ``ocpp`` library.

``GatewayChargePoint`` is the library's central-system ``ChargePoint`` with one ``@on``
handler per action: the library parses, validates against the 1.6 JSON schemas, converts
camelCase, answers a handler's exception with a CALLERROR and never ends the connection for
one bad message. Each handler hands the message to the charger's points
(``ocpp_gateway.connectors.ChargerPoints``: the ``Point`` of each connector), which decide;
here is only the translation to and from the library's payload classes.

Every call a charger makes is counted for the metrics (``ocpp_gateway.metrics``), by action
and result: ``ok``, or the CALLERROR's code the library answered with. ``GatewayConnection``
holds that counting and what else both versions share; OCPP 2.0.1's charge point
(``ocpp_gateway.charge_point_v201``) is built on it the same way.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityType,
    RegistrationStatus,
)

from ocpp_gateway.connectors import ChargerPoints
from ocpp_gateway.station import CONNECTOR, Call, RemoteStart, RemoteStop
from wire.timefmt import now_ts

CALL_TIMEOUT = 15  # s a charger has to answer the gateway's calls (RemoteStart…)


def _id_tag_info(accepted: bool) -> dict[str, str]:
    status = AuthorizationStatus.accepted if accepted else AuthorizationStatus.invalid
    return {"status": status.value}


class GatewayConnection:
    """What the gateway's charge points of both versions add to the library's: the charger's
    points they serve (``point``: one per connector), the time of the last message (the
    silence watchdog) and the calls counted. A mixin before the library's ``ChargePoint`` of
    one version; its ``__init__`` serves both."""

    point: ChargerPoints
    _connection: Any

    def __init__(self, cp_id: str, connection: Any, point: ChargerPoints) -> None:
        # the version's ``ChargePoint``, next in the subclass's MRO
        super().__init__(cp_id, connection, response_timeout=CALL_TIMEOUT)  # type: ignore[call-arg]
        self.point = point
        self.last_message = time.monotonic()
        # the charger's calls the gateway has not answered yet: meanwhile the charger waits
        # (one call at a time), so its silence is the gateway's (a BootNotification waits up
        # to 5 s for Central) and the silence watchdog does not count it
        self.answering = 0
        self._call_error: str | None = None  # the code of the CALLERROR sent for this call

    async def close(self, reason: str) -> None:
        """End this connection (a newer one of the same charge point took over)."""
        await self._connection.close(code=1000, reason=reason)

    async def route_message(self, raw_msg: str) -> None:
        self.last_message = time.monotonic()  # any message, answers included, is a sign of life
        await super().route_message(raw_msg)  # type: ignore[misc]

    async def _handle_call(self, msg: Any) -> Any:
        """The library's call handling, counted: ``ok`` or the CALLERROR's code (a handler's
        exception is answered inside; a missing handler or a schema error is raised)."""
        self._call_error = None
        self.answering += 1
        try:
            response = await super()._handle_call(msg)  # type: ignore[misc]
        except OCPPError as exc:
            self.point.gateway.count_call("received", msg.action, getattr(exc, "code", "error"))
            raise
        finally:
            self.answering -= 1
            self.last_message = time.monotonic()  # the charger's silence starts from here
        self.point.gateway.count_call("received", msg.action, self._call_error or "ok")
        return response

    async def _send(self, message: str) -> None:
        if message.startswith("[4"):  # a CALLERROR of ours: [4, id, code, description, details]
            try:
                self._call_error = str(json.loads(message)[2])
            except (ValueError, IndexError, TypeError):
                self._call_error = "error"
        await super()._send(message)  # type: ignore[misc]


class GatewayChargePoint(GatewayConnection, ChargePoint):
    """An OCPP 1.6J charger (subprotocol ``ocpp1.6``)."""

    version = "1.6"

    def payload(self, request: Call, connector: int = CONNECTOR) -> Any:
        if isinstance(request, RemoteStart):
            return call.RemoteStartTransaction(id_tag=request.id_tag, connector_id=connector)
        if isinstance(request, RemoteStop):
            return call.RemoteStopTransaction(transaction_id=request.transaction_id)
        kind = AvailabilityType.operative if request.operative else AvailabilityType.inoperative
        return call.ChangeAvailability(connector_id=connector, type=kind)

    async def number_of_connectors(self) -> int | None:
        """GetConfiguration ``NumberOfConnectors`` (a core key every 1.6 charger has); None
        when the charger does not say."""
        answer = await self.call(call.GetConfiguration(key=["NumberOfConnectors"]))
        for entry in getattr(answer, "configuration_key", None) or []:
            if entry.get("key") == "NumberOfConnectors":
                try:
                    return int(entry.get("value", ""))
                except ValueError:
                    return None
        return None

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **_: Any
    ) -> call_result.BootNotification:
        status = await self.point.boot(charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=now_ts(),
            interval=max(1, round(self.point.gateway.heartbeat_interval)),
            status=RegistrationStatus(status),
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        # once the answer left: a call before it would reach a charger not yet accepted
        self.point.booted(self, self.number_of_connectors)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now_ts())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, info: str | None = None, **_: Any
    ) -> call_result.StatusNotification:
        self.point.status(connector_id, status, error_code, info)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        accepted = await self.point.authorize(id_tag)
        return call_result.Authorize(id_tag_info=_id_tag_info(accepted))

    @on(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> call_result.StartTransaction:
        transaction_id, accepted = self.point.start(connector_id, id_tag, meter_start, timestamp)
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=_id_tag_info(accepted)
        )

    @on(Action.meter_values)
    def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        self.point.meter(connector_id, transaction_id, meter_value)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        **_: Any,
    ) -> call_result.StopTransaction:
        # meterStop is the reading that counts; transactionData only repeats MeterValues
        self.point.stop(transaction_id, meter_stop, timestamp, reason)
        return call_result.StopTransaction(id_tag_info=_id_tag_info(True))
