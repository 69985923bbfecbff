"""A simulated OCPP 1.6J charger, built on the ``ocpp`` library's ``ChargePoint`` (the same
code a real charger vendor might use): for ``make run --ocpp-cps N`` and the tests. With
``--ocpp-version 2.0.1`` it is the 2.0.1 station of ``ocpp_gateway.sim_v201`` instead.

    python -m ocpp_gateway.sim --url ws://127.0.0.1:9000/ocpp --id OCPP-01
        [--password PW | --password-file F] [--power-kw 22] [--speed 10] [--charge-seconds 8]
        [--ca CA.pem [--cert ID.pem --key ID.key]] [--ocpp-version 1.6|2.0.1] [--connectors N]

With a ``wss://`` URL it checks the gateway's certificate against ``--ca`` (security profile
2) and, given ``--cert``/``--key`` (``evc-admin ocpp cert ID``), presents its own (profile 3).

It boots, reports each connector Available, beats at the interval the gateway gives,
accepts RemoteStartTransaction on a free connector (StartTransaction, then MeterValues every
second with the energy register in Wh and the power in W, then StopTransaction
EVDisconnected after ``charge_seconds``), RemoteStopTransaction (StopTransaction Remote),
ChangeAvailability of a connector or of all (connector 0: StatusNotification
Unavailable/Available) and GetConfiguration ``NumberOfConnectors``. ``--connectors N``: N
connectors, each with its own meter and transaction (EV_OCPP serves them as N CPs when told
``--connectors ID=N``). It reconnects when the WebSocket drops; it does not queue messages
while offline (the tests do that themselves).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import ssl
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
)

from ocpp_gateway.sim_common import SimBehaviour, SimConnector
from ocpp_gateway.sim_v201 import SimCharger201

log = logging.getLogger(__name__)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter_value(wh: float, watts: float | None = None) -> list[dict[str, Any]]:
    """One MeterValues ``meterValue`` entry: the energy register (Wh) and the power (W)."""
    samples: list[dict[str, Any]] = [
        {"value": f"{wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    ]
    if watts is not None:
        samples.append({"value": f"{watts:.0f}", "measurand": "Power.Active.Import", "unit": "W"})
    return [{"timestamp": iso_now(), "sampledValue": samples}]


def basic_auth_header(user: str, password: str | bytes) -> dict[str, str]:
    """``password`` as text (the AuthorizationKey's hex text, as many vendors send it) or as
    raw bytes (a compliant charger: the bytes its hex AuthorizationKey encodes)."""
    raw = password if isinstance(password, bytes) else password.encode()
    token = base64.b64encode(user.encode() + b":" + raw).decode()
    return {"Authorization": f"Basic {token}"}


def client_tls(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A charger's TLS context for ``wss://``: trusts ``ca`` (the project's CA that issued
    the gateway's certificate; the system's roots without it) and, for security profile 3,
    presents its own certificate and key."""
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


class SimCharger(SimBehaviour, ChargePoint):
    """The 1.6J charger; ``SimBehaviour.__init__`` builds it (same arguments for both)."""

    # --- the gateway's calls -----------------------------------------------------------------

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        self.received.append("RemoteStartTransaction")
        connector = self.free_connector(connector_id)
        if connector is None:
            return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)
        self.start_charging(connector, self.charge(id_tag, connector.number))
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self.received.append("RemoteStopTransaction")
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id and connector.charging is not None:
                connector.remote_stop.set()
                return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        self.received.append(f"ChangeAvailability {type}")
        scheduled = self.change_availability(connector_id, type == "Operative")
        if scheduled is None:
            return call_result.ChangeAvailability(status=AvailabilityStatus.rejected)
        status = AvailabilityStatus.scheduled if scheduled else AvailabilityStatus.accepted
        return call_result.ChangeAvailability(status=status)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        known = {"NumberOfConnectors": str(len(self.connectors))}
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": True, "value": known[k]} for k in wanted if k in known
            ],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    def idle_status(self, connector: int = 1) -> ChargePointStatus:
        if self.connectors[connector].operative:
            return ChargePointStatus.available
        return ChargePointStatus.unavailable

    # --- what a charger does -----------------------------------------------------------------

    async def boot(self) -> str:
        answer = await self.call(
            call.BootNotification(charge_point_model="Sim-1", charge_point_vendor="EVCharging")
        )
        self.boot_interval = answer.interval  # Pending, Rejected: when to boot again
        if answer.status == RegistrationStatus.accepted:
            self.interval = answer.interval
        return answer.status

    async def status(
        self,
        status: ChargePointStatus,
        error_code: ChargePointErrorCode = ChargePointErrorCode.no_error,
        connector: int = 1,
    ) -> None:
        """StatusNotification of a connector (0: the charger as a whole)."""
        await self.call(
            call.StatusNotification(connector_id=connector, error_code=error_code, status=status)
        )

    async def heartbeat(self) -> None:
        await self.call(call.Heartbeat())

    async def authorize(self, id_tag: str) -> str:
        """An idTag presented at the charger (a driver's card)."""
        answer = await self.call(call.Authorize(id_tag=id_tag))
        return answer.id_tag_info["status"]

    async def start_transaction(self, id_tag: str, connector: int = 1) -> bool:
        state = self.connectors[connector]
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector,
                id_tag=id_tag,
                meter_start=int(state.meter_wh),
                timestamp=iso_now(),
            )
        )
        state.transaction_id = answer.transaction_id
        return answer.id_tag_info["status"] == "Accepted"

    async def send_meter(self, connector: int = 1) -> None:
        state = self.connectors[connector]
        await self.call(
            call.MeterValues(
                connector_id=connector,
                transaction_id=state.transaction_id,
                meter_value=meter_value(state.meter_wh, self.power_kw * 1000),
            )
        )

    async def stop_transaction(
        self, reason: Reason = Reason.ev_disconnected, connector: int = 1
    ) -> None:
        state = self.connectors[connector]
        assert state.transaction_id is not None
        await self.call(
            call.StopTransaction(
                meter_stop=int(state.meter_wh),
                timestamp=iso_now(),
                transaction_id=state.transaction_id,
                reason=reason,
            )
        )
        state.transaction_id = None

    async def charge(self, id_tag: str, connector: int = 1) -> None:
        """Plug in, charge ``charge_seconds`` (energy × ``speed``), unplug. A connection lost
        meanwhile ends the simulation of this transaction (this charger queues nothing)."""
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._charge(id_tag, self.connectors[connector])

    async def _charge(self, id_tag: str, state: SimConnector) -> None:
        n = state.number
        await self.status(ChargePointStatus.preparing, connector=n)
        if not await self.start_transaction(id_tag, n):
            await self.stop_transaction(Reason.de_authorized, n)
            await self.status(self.idle_status(n), connector=n)
            return
        await self.status(ChargePointStatus.charging, connector=n)
        reason = Reason.remote if await self.run_meter(n) else Reason.ev_disconnected
        await self.status(ChargePointStatus.finishing, connector=n)
        await self.stop_transaction(reason, n)
        await self.status(self.idle_status(n), connector=n)


SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


def charger_class(version: str) -> Any:
    """The simulated charger of an OCPP version (``SimCharger`` or ``SimCharger201``)."""
    return SimCharger201 if version == "2.0.1" else SimCharger


async def run(args: argparse.Namespace) -> None:
    url = f"{args.url.rstrip('/')}/{args.id}"
    kind = charger_class(args.ocpp_version)
    headers = basic_auth_header(args.id, args.password) if args.password else None
    tls = client_tls(args.ca, args.cert, args.key) if url.startswith("wss://") else None
    meters: dict[int, float] = {}  # each connector's meter, kept across connections
    while True:
        try:
            async with websockets.connect(
                url,
                subprotocols=[SUBPROTOCOLS[args.ocpp_version]],  # type: ignore[list-item]
                additional_headers=headers,
                ssl=tls,
            ) as ws:
                charger = kind(
                    args.id,
                    ws,
                    power_kw=args.power_kw,
                    speed=args.speed,
                    charge_seconds=args.charge_seconds,
                    connectors=args.connectors,
                )
                for n, wh in meters.items():
                    charger.connectors[n].meter_wh = wh
                reader = asyncio.get_running_loop().create_task(charger.start())
                while (status := await charger.boot()) != RegistrationStatus.accepted:
                    print(f"{args.id}: BootNotification {status}; retrying", flush=True)
                    await asyncio.sleep(5)
                print(f"{args.id}: booted, heartbeat every {charger.interval} s", flush=True)
                for n in charger.connectors:  # Available: a word of both versions
                    await charger.status(ChargePointStatus.available.value, connector=n)
                beat = asyncio.get_running_loop().create_task(charger.beat())
                try:
                    await reader
                finally:
                    beat.cancel()
                    meters = {n: c.meter_wh for n, c in charger.connectors.items()}
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            print(f"{args.id}: connection failed ({exc}); retrying", flush=True)
        await asyncio.sleep(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ocpp-sim", description="simulated OCPP charger")
    p.add_argument("--url", required=True, help="the gateway's ws[s]://HOST:PORT/ocpp")
    p.add_argument("--id", required=True)
    p.add_argument("--password", default="", help="basic-auth password (visible in ps)")
    p.add_argument("--password-file", type=Path, default=None, help="read it from this file")
    p.add_argument("--ca", type=Path, default=None, help="wss://: the CA of the gateway's cert")
    p.add_argument("--cert", type=Path, default=None, help="wss://: this charger's certificate")
    p.add_argument("--key", type=Path, default=None, help="its private key")
    p.add_argument("--power-kw", type=float, default=22.0)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--charge-seconds", type=float, default=8.0)
    p.add_argument("--ocpp-version", choices=sorted(SUBPROTOCOLS), default="1.6")
    p.add_argument(
        "--connectors",
        type=int,
        choices=range(1, 100),
        default=1,
        metavar="N",
        help="connectors (2.0.1: EVSEs), each with its own meter and transaction (default 1)",
    )
    p.add_argument("--no-gui", action="store_true")
    args = p.parse_args(argv)
    if args.password_file is not None:
        args.password = args.password_file.read_text(encoding="utf-8").strip()
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
