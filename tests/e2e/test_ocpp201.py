"""OCPP 2.0.1 charging stations join the network like 1.6J chargers (issue 24, item 3): the
``ocpp`` library's v201 ChargePoint (``ocpp_gateway.sim_v201``) over a real WebSocket with
the ``ocpp2.0.1`` subprotocol, EV_OCPP, the real broker and a real EV_Central — the same
scenarios as ``test_ocpp.py``, in 2.0.1's words."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Network, Observer, Proc
from tests.e2e.ocpp_helpers import Charger, Gateway
from tests.waiting import wait_for

CP = "OCPP-21"
HEARTBEAT = 3  # s (see test_ocpp.py: 2 s is too tight for a loaded machine)


@pytest.fixture
def central(network: Network) -> Proc:
    return network.start_central(stdin_pipe=True)  # the operator's Stop/Resume on stdin


@pytest.fixture
def gateway(network: Network, central: Proc) -> Gateway:
    return Gateway(network, heartbeat=HEARTBEAT)


@pytest.fixture
def chargers() -> Iterator[list[Charger]]:
    made: list[Charger] = []
    yield made
    for charger in made:
        charger.close()


def booted(gateway: Gateway, chargers: list[Charger], observer: Observer, **sim: float) -> Charger:
    """A provisioned 2.0.1 station (password from evc-admin) that booted and is ACTIVE."""
    password = gateway.set_password(CP)
    if gateway.proc is None:
        gateway.start()
    charger = Charger(gateway.url, CP, password, version="2.0.1", **sim)
    chargers.append(charger)
    charger.connect()
    assert charger.boot() == "Accepted"
    assert charger.cp is not None and charger.cp.interval == HEARTBEAT
    charger.call("status", "Available")
    observer.wait_status(CP, "ACTIVE", 20)
    return charger


def supplying(network: Network, observer: Observer, driver_id: str) -> str:
    asked = time.monotonic()
    driver = network.drivers.get(driver_id) or network.start_driver(driver_id)
    driver.send_line(CP)
    started = observer.wait("supply_started", 30, since=asked, cp_id=CP, driver_id=driver_id)
    return started.session_id


def test_a_201_station_is_charged_and_ticketed_and_centrals_stop_and_resume_reach_it(
    network: Network,
    central: Proc,
    gateway: Gateway,
    chargers: list[Charger],
    observer: Observer,
) -> None:
    charger = booted(gateway, chargers, observer, speed=300, charge_seconds=3)
    session = supplying(network, observer, "D-001")
    ticket = network.wait_ticket(session, 30)
    assert charger.cp is not None
    assert charger.cp.received[0] == "RequestStartTransaction"
    meter_stop = round(charger.cp.meter_wh)  # the meter started at 0 Wh
    assert ticket["kwh"] == round(meter_stop / 1000, 3) and ticket["kwh"] > 0
    assert ticket["eur"] == round(ticket["kwh"] * ticket["price"], 2)
    assert ticket["reason"] == "unplugged"
    progress = observer.cp_events("supply_progress", session_id=session)
    assert progress and 0 < progress[-1].kwh <= ticket["kwh"]
    observer.wait_status(CP, "ACTIVE", 10)

    charger.cp.charge_seconds = 120
    session = supplying(network, observer, "D-001")
    observer.wait("supply_progress", 10, session_id=session)
    central.send_line(f"stop {CP}")
    observer.wait_status(CP, "STOPPED", 10)
    stopped = network.wait_ticket(session, 15)
    assert stopped["reason"] == "stopped" and stopped["kwh"] > 0
    wait_for(lambda: "ChangeAvailability Inoperative" in charger.cp.received, 10, "Inoperative")
    assert charger.cp.received[-2:] == ["RequestStopTransaction", "ChangeAvailability Inoperative"]
    assert observer.status(CP) == "STOPPED"

    central.send_line(f"resume {CP}")
    observer.wait_status(CP, "ACTIVE", 10)
    wait_for(lambda: charger.cp.received[-1] == "ChangeAvailability Operative", 10, "Operative")


def test_a_201_fault_breaks_the_cp_and_a_replayed_end_after_a_lost_socket_gives_one_ticket(
    network: Network, gateway: Gateway, chargers: list[Charger], observer: Observer
) -> None:
    charger = booted(gateway, chargers, observer, speed=300, charge_seconds=120)
    session = supplying(network, observer, "D-002")
    observer.wait("supply_progress", 10, session_id=session)
    charger.call("status", "Faulted")
    observer.wait_status(CP, "BROKEN", 10)
    assert observer.wait("supply_interrupted", 10, session_id=session).reason == "fault"
    assert network.wait_ticket(session, 15)["reason"] == "fault"
    charger.call("status", "Available")
    observer.wait_status(CP, "ACTIVE", 10)

    # a card at the station (Authorize), its transaction, then the WebSocket lost mid-charge
    assert charger.call("authorize", "D-003") == "Accepted"
    assert charger.call("start_transaction", "D-003")
    started = observer.wait("supply_started", 15, cp_id=CP, driver_id="D-003")
    assert charger.cp is not None
    transaction_id = charger.cp.transaction_id
    charger.kill()
    observer.wait_status(CP, "DISCONNECTED", HEARTBEAT + 3)
    assert not network.tickets(session_id=started.session_id)

    # back: the queued Ended (twice: its answer was lost), no new boot
    charger.meter_wh += 1500
    charger.connect()
    cp = charger.cp
    assert cp is not None
    for _ in range(2):
        cp.transaction_id, cp.meter_wh = transaction_id, charger.meter_wh
        charger.call("stop_transaction")
    charger.call("status", "Available")
    ticket = network.wait_ticket(started.session_id, 15)
    assert ticket["kwh"] == 1.5 and ticket["reason"] == "unplugged"
    observer.wait_status(CP, "ACTIVE", 10)
    assert len(observer.cp_events("supply_ended", session_id=started.session_id)) == 1
