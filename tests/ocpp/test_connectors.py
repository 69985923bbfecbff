"""Several connectors per charger (issue 24, item 4): each connector is a CP at Central, and
connector 0 is the charger as a whole — the naming, the routing of each message to its
connector's point, and the stations' health, without a broker or a WebSocket."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ocpp_gateway.charge_point import GatewayChargePoint
from ocpp_gateway.connectors import (
    ChargerPoints,
    ConnectorCounts,
    connector_cp_id,
    connectors_option,
)
from ocpp_gateway.gateway import Gateway
from ocpp_gateway.sim import SimCharger
from ocpp_gateway.station import ChangeAvailability, RemoteStart, Station
from ocpp_gateway.transactions import TransactionBook
from tests.ocpp.gateways import idle_gateway
from wire.kafka.messages import Authorize, Event, Stop, SupplyEnded, SupplyStarted
from wire.tcp_messages import EngineHealth
from wire.timefmt import format_ts, utc_now

CHARGER = "OCPP-07"


# --- naming -----------------------------------------------------------------------------------


def test_a_single_connector_keeps_the_chargers_id_and_several_are_numbered() -> None:
    assert connector_cp_id(CHARGER, 1, 1) == CHARGER  # as before connectors were served
    assert [connector_cp_id(CHARGER, n, 2) for n in (1, 2)] == ["OCPP-07-1", "OCPP-07-2"]
    assert connectors_option("OCPP-07=2") == (CHARGER, 2)
    assert connectors_option("3") == (None, 3)
    counts = ConnectorCounts.of_options([(CHARGER, 2), (None, 1)])
    assert (counts.of(CHARGER), counts.of("OCPP-01")) == (2, 1)
    for bad in ("OCPP-07=0", "OCPP-07=x", "bad id=2", "100", f"{'A' * 63}=2"):
        with pytest.raises(argparse.ArgumentTypeError):
            connectors_option(bad)


# --- the station: connector 0 is the charger as a whole --------------------------------------


def test_connector_0_breaks_every_connector_until_the_charger_recovers(tmp_path: Path) -> None:
    st = Station("X-1", TransactionBook(tmp_path, "X-1"), lost_grace=0.0)
    st.on_status("Charging")
    st.on_status("Faulted", "GroundFailure", whole_charger=True)
    assert st.health == st.charger_health and st.health.health == EngineHealth.KO
    st.on_status("Available")  # the connector alone does not mend the charger
    assert st.health.health == EngineHealth.KO and st.status == "Available"
    st.on_status("Available", whole_charger=True)
    assert st.health.health == EngineHealth.OK
    st.on_status("Unavailable", whole_charger=True)  # nobody asked for it: broken too
    assert st.health.reason == "OCPP status Unavailable"
    st.on_status("Available", whole_charger=True)
    st.on_status("Faulted", "OverCurrentFailure")  # and the connector's own fault still counts
    st.on_status("Available", whole_charger=True)
    assert st.health.health == EngineHealth.KO


# --- the charger's points --------------------------------------------------------------------


class Kafka:
    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    def publish(self, cp_id: str, event: Event, topic: str | None = None) -> None:
        self.events.append((cp_id, event))

    def watch(self, cp_id: str, key: bytes | None) -> None:
        pass


class Connection:
    """The charger's connection as a point sees it: the calls it was asked to make."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, int]] = []

    def payload(self, request: Any, connector: int = 1) -> tuple[Any, int]:
        return request, connector

    async def call(self, payload: Any) -> Any:
        self.calls.append(payload)
        return SimpleNamespace(status="Accepted")

    async def close(self, reason: str) -> None:
        pass


def gateway(tmp_path: Path, **counts: int) -> Gateway:
    gw = idle_gateway(tmp_path, connectors=ConnectorCounts(chargers=counts), insecure=False)
    gw.kafka = Kafka()  # type: ignore[assignment]
    (tmp_path / "state").mkdir()
    return gw


def authorize(cp_id: str, session: str, driver: str) -> Authorize:
    expires = format_ts(utc_now() + timedelta(seconds=30))
    return Authorize(
        session_id=session,
        request_id=session,
        driver_id=driver,
        cp_id=cp_id,
        price=0.4,
        expires_at=expires,
    )


def ended(gw: Gateway) -> dict[str, SupplyEnded]:
    kafka: Kafka = gw.kafka  # type: ignore[assignment]
    return {cp: e for cp, e in kafka.events if isinstance(e, SupplyEnded)}


def test_each_connector_is_a_cp_with_its_own_session_and_ticket(tmp_path: Path) -> None:
    gw = gateway(tmp_path, **{CHARGER: 2})
    charger = gw.charger(CHARGER)
    assert sorted(gw.points) == ["OCPP-07-1", "OCPP-07-2"]
    connection = Connection()

    async def run() -> None:
        charger.attach(connection, True)  # type: ignore[arg-type]
        # Central's commands reach a CP by its id; the charger hears of its connector
        gw._command("OCPP-07-2", authorize("OCPP-07-2", "s2", "D-002"))
        gw._command("OCPP-07-1", authorize("OCPP-07-1", "s1", "D-001"))
        await asyncio.sleep(0.01)
        assert [(type(r).__name__, n) for r, n in connection.calls] == [
            ("RemoteStart", 2),
            ("RemoteStart", 1),
        ]
        tx2, ok2 = charger.start(2, "D-002", 5000, "2026-12-07T10:00:00Z")
        tx1, ok1 = charger.start(1, "D-001", 100, "2026-12-07T10:00:00Z")
        assert ok1 and ok2
        charger.meter(2, tx2, [{"sampled_value": [{"value": "6500"}]}])
        # StopTransaction names no connector: its transaction does
        charger.stop(tx1, 2100, "2026-12-07T10:05:00Z", "EVDisconnected")
        assert ended(gw)["OCPP-07-1"].kwh == 2.0
        assert gw.points["OCPP-07-2"].station.book.running() is not None
        # connector 0 Faulted: the charger as a whole breaks both CPs, ends the supply left
        charger.status(0, "Faulted", "PowerMeterFailure", None)
        assert all(p.station.health.health == EngineHealth.KO for p in charger.points)
        assert (ended(gw)["OCPP-07-2"].kwh, ended(gw)["OCPP-07-2"].reason) == (1.5, "fault")
        charger.status(0, "Available", "NoError", None)
        assert all(p.station.health.health == EngineHealth.OK for p in charger.points)
        # a connector the operator did not declare: refused, never another CP's
        _, accepted = charger.start(3, "D-001", 0, "2026-12-07T10:06:00Z")
        assert not accepted
        # Central's stop of one CP makes only its connector unavailable
        gw._command("OCPP-07-2", Stop(cp_id="OCPP-07-2"))
        await asyncio.sleep(0.01)
        assert connection.calls[-1] == (ChangeAvailability(operative=False), 2)

    asyncio.run(run())
    started = [cp for cp, e in gw.kafka.events if isinstance(e, SupplyStarted)]  # type: ignore[attr-defined]
    assert started == ["OCPP-07-2", "OCPP-07-1"]


def test_a_charger_served_as_one_cp_keeps_its_id_and_all_its_transactions(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    gw = gateway(tmp_path)
    gw._say = said.append
    charger = gw.charger(CHARGER)
    assert list(gw.points) == [CHARGER]

    async def run() -> None:
        charger.attach(Connection(), True)  # type: ignore[arg-type]
        gw._command(CHARGER, authorize(CHARGER, "s1", "D-001"))
        await asyncio.sleep(0.01)
        charger.status(2, "Preparing", "NoError", None)  # another connector: not a CP
        charger.status(2, "Charging", "NoError", None)
        # but a transaction on it is this CP's, as before connectors were served
        tx, accepted = charger.start(2, "D-001", 0, "2026-12-07T10:00:00Z")
        assert accepted
        charger.stop(tx, 700, "2026-12-07T10:01:00Z", None)

    asyncio.run(run())
    assert ended(gw)[CHARGER].kwh == 0.7
    (hint,) = [line for line in said if "not served" in line]  # said once
    assert f"--connectors {CHARGER}=2" in hint and "OCPP-07-1, OCPP-07-2" in hint


def test_a_card_at_the_charger_asks_for_the_connector_a_vehicle_is_plugged_into(
    tmp_path: Path,
) -> None:
    gw = gateway(tmp_path, **{CHARGER: 3})
    charger = gw.charger(CHARGER)
    asked: list[str] = []
    for point in charger.points:
        point.link = SimpleNamespace(up=True, report=lambda *_: None)  # type: ignore[assignment]

        async def ask(id_tag: str, cp_id: str = point.cp_id) -> bool:
            asked.append(cp_id)
            return True

        point.authorize = ask  # type: ignore[method-assign]
    charger.status(3, "Preparing", "NoError", None)
    assert asyncio.run(charger.authorize("D-001"))
    charger.status(3, "Available", "NoError", None)
    charger.status(1, "Faulted", "GroundFailure", None)
    asyncio.run(charger.authorize("D-002"))  # none plugged: the first free one
    assert asked == ["OCPP-07-3", "OCPP-07-2"]


def test_the_boot_answers_for_every_connector(tmp_path: Path) -> None:
    gw = gateway(tmp_path, **{CHARGER: 2})
    charger = gw.charger(CHARGER)
    charger.authenticated = True
    retried: list[str] = []

    def answers(first: str, second: str) -> str:
        for point, answer in zip(charger.points, (first, second), strict=True):

            async def boot(vendor: str, model: str, answer: str = answer) -> str:
                return answer

            point.boot = boot  # type: ignore[method-assign]
            point.keep_trying = lambda cp_id=point.cp_id: retried.append(cp_id)  # type: ignore[method-assign]
        return asyncio.run(charger.boot("ACME", "Duo"))

    # Central refused X-2 (no token yet): the charger is in, X-2 goes on asking by itself
    assert answers("Accepted", "Rejected") == "Accepted" and retried == ["OCPP-07-2"]
    assert answers("Pending", "Rejected") == "Pending"
    assert answers("Rejected", "Rejected") == "Rejected"


def test_the_chargers_number_of_connectors_is_checked_against_the_operators(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    gw = gateway(tmp_path, **{CHARGER: 2})
    gw._say = said.append
    charger = gw.charger(CHARGER)

    async def check(reported: int) -> None:
        async def ask() -> int:
            return reported

        await charger._check_count(ask)

    asyncio.run(check(3))
    asyncio.run(check(3))  # said once
    asyncio.run(check(1))
    assert len(said) == 2
    assert "connector 3 is not served (NumberOfConnectors 3)" in said[0]
    assert f"--connectors {CHARGER}=3" in said[0]
    assert "OCPP-07-2 will never charge" in said[1]


def test_the_16_charger_hears_of_its_connector_and_says_its_number_of_connectors() -> None:
    cp = GatewayChargePoint(CHARGER, Connection(), None)  # type: ignore[arg-type]
    start = cp.payload(RemoteStart("D-001"), 2)
    assert (type(start).__name__, start.connector_id) == ("RemoteStartTransaction", 2)
    off = cp.payload(ChangeAvailability(operative=False), 2)
    assert (off.connector_id, off.type) == (2, "Inoperative")

    class Socket:
        sent: list[Any] = []

        async def send(self, message: str) -> None:
            self.sent.append(json.loads(message))

    sim = SimCharger(CHARGER, Socket(), connectors=2)
    ask = [2, "1", "GetConfiguration", {"key": ["NumberOfConnectors", "Nope"]}]
    asyncio.run(sim.route_message(json.dumps(ask)))
    ((_, _, answer),) = Socket.sent
    assert answer == {
        "configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "2"}],
        "unknownKey": ["Nope"],
    }


def test_a_charger_id_that_is_anothers_connector_is_refused(tmp_path: Path) -> None:
    gw = gateway(tmp_path, **{CHARGER: 2})
    gw.charger(CHARGER)
    assert gw._conflict("OCPP-07-2") == "OCPP-07-2 is connector 2 of OCPP-07"
    assert gw._conflict(CHARGER) is None and gw._conflict("OCPP-08") is None
    assert isinstance(gw.chargers[CHARGER], ChargerPoints)


def test_the_demo_gives_its_chargers_connectors_on_request() -> None:
    """``make run RUN_ARGS="--ocpp-cps 1 --ocpp-connectors 2"``: the CPs OCPP-01-1 and
    OCPP-01-2 at the charger's location, side by side on the map."""
    from chaos.components import load_run_network

    run_network = load_run_network()
    assert run_network.parse_args([]).ocpp_connectors == 1
    assert run_network.parse_args(["--ocpp-connectors", "2"]).ocpp_connectors == 2
    chargers = run_network.ocpp_specs(1)
    assert run_network.ocpp_connector_specs(chargers, 1) == chargers
    cps = run_network.ocpp_connector_specs(chargers, 2)
    assert [cp["id"] for cp in cps] == ["OCPP-01-1", "OCPP-01-2"]
    assert {cp["location"] for cp in cps} == {chargers[0]["location"]}
