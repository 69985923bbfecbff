"""OCPP 2.0.1 onto the same CP model as 1.6J (issue 24, item 3), without I/O: the mapping of
a TransactionEvent, the station's decisions on it, and the v201 charge point's exact bytes
over a fake connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ocpp_gateway import mapping
from ocpp_gateway.charge_point_v201 import GatewayChargePoint201
from ocpp_gateway.station import ChangeAvailability, RemoteStart, RemoteStop, Station
from ocpp_gateway.transactions import TransactionBook
from tests.ocpp.test_station import CP, authorize
from wire.kafka.messages import SupplyEnded, SupplyProgress, SupplyStarted
from wire.reasons import EndReason
from wire.tcp_messages import AdminState, EngineHealth


def station(tmp_path: Path) -> Station:
    return Station(CP, TransactionBook(tmp_path, CP))


def reading(wh: float, unit: str = "Wh", multiplier: int = 0, **extra: Any) -> dict[str, Any]:
    sample = {"value": wh, "unit_of_measure": {"unit": unit, "multiplier": multiplier}, **extra}
    return {"timestamp": "2026-12-07T10:00:00Z", "sampled_value": [sample]}


def event(kind: str, tx: str = "tx-1", **fields: Any) -> mapping.TxEvent:
    return mapping.TxEvent(kind=kind, charger_tx=tx, **fields)


# --- mapping ---------------------------------------------------------------------------------


def test_a_transaction_event_is_read_in_the_librarys_snake_case() -> None:
    ev = mapping.transaction_event(
        "Updated",
        "2026-12-07T10:00:00Z",
        {"transaction_id": "abc", "remote_start_id": 7, "stopped_reason": "Remote"},
        {"id_token": "D-001", "type": "Central"},
        [
            reading(1.5, "kWh"),
            reading(
                11, "W", 3, measurand="Power.Active.Import"
            ),  # 11 × 10³ W, the multiplier as 2.0.1 has it
        ],
    )
    assert ev == mapping.TxEvent(
        kind="Updated",
        charger_tx="abc",
        timestamp="2026-12-07T10:00:00Z",
        id_tag="D-001",
        remote_start_id=7,
        wh=1500.0,
        kw=11.0,
        reason="Remote",
    )
    bare = mapping.transaction_event("Started", None, {"transaction_id": "x"})
    assert (bare.id_tag, bare.remote_start_id, bare.wh, bare.kw) == (None, None, None, None)
    # a 1.6 reading reads as before: a string value and a unit of its own
    assert mapping.register_wh([{"sampled_value": [{"value": "2", "unit": "kWh"}]}]) == 2000.0


def test_201_statuses_and_stop_reasons_map_as_the_16_ones() -> None:
    assert mapping.health_of("Occupied").health == EngineHealth.OK
    assert mapping.health_of("Faulted", "").reason == "OCPP Faulted"
    assert mapping.health_of("Unavailable", "", stopped=True).health == EngineHealth.OK
    assert mapping.end_reason("StoppedByEV") == EndReason.UNPLUGGED
    assert mapping.end_reason("ImmediateReset") == EndReason.ENGINE_RESTART
    assert mapping.end_reason("GroundFault") == EndReason.FAULT
    assert mapping.end_reason("Remote") == EndReason.STOPPED


# --- the station ------------------------------------------------------------------------------


def test_a_remote_start_is_one_transaction_from_started_to_ended(tmp_path: Path) -> None:
    st = station(tmp_path)
    (start,) = st.on_authorize(authorize()).calls
    assert isinstance(start, RemoteStart) and start.id_tag == "D-001"
    # the Started event names the request by its remoteStartId, not necessarily by the token
    verdict, out = st.on_transaction_event(
        event("Started", remote_start_id=start.remote_start_id, wh=1000.0), now=0.0
    )
    assert verdict is None
    (started,) = out.events
    assert isinstance(started, SupplyStarted) and started.driver_id == "D-001"
    _, out = st.on_transaction_event(event("Updated", wh=3000.0, kw=7.4), now=1.0)
    (progress,) = out.events
    assert isinstance(progress, SupplyProgress)
    assert (progress.kwh, progress.eur, progress.kw) == (2.0, 0.8, 7.4)
    # a central stop asks the charger for its own transaction id
    assert st.on_admin(AdminState.STOPPED).calls == [
        RemoteStop(st.book.running().transaction_id, "tx-1"),  # type: ignore[union-attr]
        ChangeAvailability(operative=False),
    ]
    _, out = st.on_transaction_event(event("Ended", wh=6000.0, reason="Remote"), now=2.0)
    (ended,) = out.events
    assert isinstance(ended, SupplyEnded)
    assert (ended.kwh, ended.eur, ended.reason) == (5.0, 2.0, EndReason.STOPPED)
    # replayed (its answer was lost), even by a gateway restarted since: nothing ends twice
    assert station(tmp_path).on_transaction_event(event("Ended", wh=6000.0), 3.0)[1].events == []


def test_a_transaction_opened_at_plug_in_starts_when_the_driver_is_named(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize())
    verdict, out = st.on_transaction_event(event("Started"), now=0.0)  # nobody named yet
    assert verdict is None and out.events == [] and st.book.open == {}
    verdict, out = st.on_transaction_event(event("Updated", id_tag="D-001"), now=1.0)
    assert verdict is True and isinstance(out.events[0], SupplyStarted)
    # no reading at the start: the first one is the start, not the register's whole count
    _, out = st.on_transaction_event(event("Updated", wh=50_000.0), now=2.0)
    assert out.events[0].kwh == 0.0  # type: ignore[attr-defined]
    assert st.on_transaction_event(event("Updated", id_tag="D-666"), now=3.0)[0] is False
    _, out = st.on_transaction_event(event("Ended", wh=52_500.0), now=4.0)
    (ended,) = out.events
    assert isinstance(ended, SupplyEnded) and ended.kwh == 2.5
    assert ended.reason == EndReason.UNPLUGGED  # no stoppedReason: Local


def test_a_token_nobody_authorized_here_is_refused(tmp_path: Path) -> None:
    st = station(tmp_path)
    st.on_authorize(authorize(driver="D-001"))
    verdict, out = st.on_transaction_event(event("Started", id_tag="D-666", wh=0.0), now=0.0)
    assert verdict is False and out.events == []
    assert st.book.open == {} and st.pending is not None  # D-001 may still come


# --- the charge point: exact bytes over a fake connection ------------------------------------


class FakeConnection:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        await asyncio.Event().wait()
        return ""


class FakeGateway:
    heartbeat_interval = 30.0

    def __init__(self) -> None:
        self.counted: list[str] = []

    def count_call(self, direction: str, action: str, result: str) -> None:
        self.counted.append(f"{direction} {action} {result}")


class FakePoint:
    def __init__(self) -> None:
        self.gateway = FakeGateway()
        self.events: list[mapping.TxEvent] = []
        self.statuses: list[tuple[int, str]] = []
        self.evses: list[int | None] = []
        self.booted_by: list[object] = []  # the connections the @after hook reported

    def booted(self, cp: object, number_of_connectors: object = None) -> None:
        self.booted_by.append(cp)

    def transaction_event(self, ev: mapping.TxEvent, evse_id: int | None = None) -> bool | None:
        self.events.append(ev)
        self.evses.append(evse_id)
        return True if ev.id_tag else None

    def status(self, connector: int, status: str, error_code: str, info: str | None) -> None:
        self.statuses.append((connector, status))

    async def boot(self, vendor: str, model: str) -> str:
        return "Accepted" if (vendor, model) == ("ACME", "X1") else "Rejected"


def routed(point: FakePoint, message: list[Any]) -> list[Any]:
    connection = FakeConnection()
    cp = GatewayChargePoint201(CP, connection, point)  # type: ignore[arg-type]
    asyncio.run(cp.route_message(json.dumps(message)))
    return [json.loads(m) for m in connection.sent]


def test_the_201_charge_point_answers_with_the_exact_messages() -> None:
    point = FakePoint()
    started = {
        "eventType": "Started",
        "timestamp": "2026-12-07T10:00:00Z",
        "triggerReason": "RemoteStart",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-9", "remoteStartId": 4},
        "idToken": {"idToken": "D-001", "type": "Central"},
        "evse": {"id": 2, "connectorId": 1},
        "meterValue": [
            {
                "timestamp": "2026-12-07T10:00:00Z",
                "sampledValue": [{"value": 12.5, "unitOfMeasure": {"unit": "kWh"}}],
            }
        ],
    }
    answer = routed(point, [2, "m1", "TransactionEvent", started])
    assert answer == [[3, "m1", {"idTokenInfo": {"status": "Accepted"}}]]
    (ev,) = point.events
    assert (ev.kind, ev.charger_tx, ev.remote_start_id, ev.wh) == ("Started", "tx-9", 4, 12500.0)
    assert point.evses == [2]  # the EVSE: the connector whose CP it is

    status = {"timestamp": "2026-12-07T10:00:00Z", "connectorStatus": "Occupied"}
    status |= {"evseId": 1, "connectorId": 1}
    assert routed(point, [2, "m2", "StatusNotification", status]) == [[3, "m2", {}]]
    assert point.statuses == [(1, "Occupied")]

    boot = {"chargingStation": {"model": "X1", "vendorName": "ACME"}, "reason": "PowerUp"}
    ((kind, mid, payload),) = routed(point, [2, "m3", "BootNotification", boot])
    assert (kind, mid, payload["status"], payload["interval"]) == (3, "m3", "Accepted", 30)
    assert len(point.booted_by) == 1  # after its answer: the local authorization list
    # a schema error is a CALLERROR, counted; the connection goes on
    ((kind, mid, code, *_),) = routed(point, [2, "m4", "TransactionEvent", {"seqNo": 1}])
    assert (kind, mid) == (4, "m4") and code == "ProtocolError"
    assert point.gateway.counted[-1] == f"received TransactionEvent {code}"


def test_the_stations_calls_become_201_payloads() -> None:
    cp = GatewayChargePoint201(CP, FakeConnection(), FakePoint())  # type: ignore[arg-type]
    start = cp.payload(RemoteStart("D-001", 42))
    assert type(start).__name__ == "RequestStartTransaction"
    assert (start.id_token, start.remote_start_id, start.evse_id) == (
        {"id_token": "D-001", "type": "Central"},
        42,
        1,
    )
    stop = cp.payload(RemoteStop(1001, "tx-9"))
    assert type(stop).__name__ == "RequestStopTransaction" and stop.transaction_id == "tx-9"
    off = cp.payload(ChangeAvailability(operative=False))
    assert (type(off).__name__, off.operational_status, off.evse) == (
        "ChangeAvailability",
        "Inoperative",
        {"id": 1},  # the CP's EVSE, not the whole station
    )
    # connector n's CP: its own EVSE
    assert cp.payload(RemoteStart("D-001", 43), 2).evse_id == 2
    assert cp.payload(ChangeAvailability(operative=True), 2).evse == {"id": 2}


def test_the_demo_runs_201_chargers_on_request() -> None:
    """``make run RUN_ARGS="--ocpp-cps 2 --ocpp-version 2.0.1"``: the simulated chargers get
    the version (``python -m ocpp_gateway.sim --ocpp-version 2.0.1``)."""
    from chaos.components import load_run_network
    from ocpp_gateway.sim import SUBPROTOCOLS, charger_class
    from ocpp_gateway.sim_v201 import SimCharger201

    run_network = load_run_network()
    assert run_network.parse_args([]).ocpp_version == "1.6"
    assert run_network.parse_args(["--ocpp-version", "2.0.1"]).ocpp_version == "2.0.1"
    assert charger_class("2.0.1") is SimCharger201
    assert SUBPROTOCOLS == {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


async def _negotiated(tmp_path: Path, offered: list[str]) -> str | int:
    """The subprotocol the gateway's upgrade check and server agree on for ``offered`` (the
    charger's order of preference), or the HTTP status of a refusal."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import InvalidStatus

    from ocpp_gateway.gateway import SUBPROTOCOLS, select_subprotocol
    from tests.ocpp.gateways import idle_gateway

    gateway = idle_gateway(tmp_path)

    async def handler(connection: Any) -> None:
        await connection.close()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
        select_subprotocol=select_subprotocol,  # type: ignore[arg-type]
        process_request=gateway._check_upgrade,
    ) as server:
        port = server.sockets[0].getsockname()[1]  # type: ignore[index]
        try:
            async with connect(
                f"ws://127.0.0.1:{port}/ocpp/{CP}",
                subprotocols=offered,  # type: ignore[arg-type]
                open_timeout=5,
            ) as ws:
                return str(ws.subprotocol)
        except InvalidStatus as exc:
            return exc.response.status_code


def test_one_endpoint_speaks_the_version_the_charger_prefers(tmp_path: Path) -> None:
    assert asyncio.run(_negotiated(tmp_path, ["ocpp2.0.1"])) == "ocpp2.0.1"
    assert asyncio.run(_negotiated(tmp_path, ["ocpp1.6"])) == "ocpp1.6"
    assert asyncio.run(_negotiated(tmp_path, ["ocpp2.0.1", "ocpp1.6"])) == "ocpp2.0.1"
    assert asyncio.run(_negotiated(tmp_path, ["ocpp1.6", "ocpp2.0.1"])) == "ocpp1.6"
    assert asyncio.run(_negotiated(tmp_path, ["ocpp2.1"])) == 400  # neither
