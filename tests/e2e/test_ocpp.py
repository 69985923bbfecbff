"""OCPP 1.6J charge points join the network (issue 13, docs/ocpp.md), end to end: the
``ocpp`` library's own ChargePoint over a real WebSocket, EV_OCPP, the real broker and a
real EV_Central, secured as the rest of the e2e suite (TLS, SASL, sealed values).

Every scenario runs twice: with a 1.6J charger and with a 2.0.1 station (issue 24, item 3:
subprotocol ``ocpp2.0.1``, the library's v201 ChargePoint in ``ocpp_gateway.sim_v201``, the
same methods in 2.0.1's words), onto the same CP at Central. The last one has a charger
with two connectors, two CPs at Central (issue 24, item 4)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.harness import Network, Observer, Proc
from tests.e2e.ocpp_helpers import Charger, Gateway
from tests.waiting import wait_for

CP = "OCPP-01"
# s: the simulated chargers beat in this test's own process, which shares the two cores with
# the other xdist worker; at 2 s a beat a second late under load already crossed the
# gateway's silence limit (1.5 beats) and dropped a live charger (seen in CI)
HEARTBEAT = 3


@pytest.fixture
def central(network: Network) -> Proc:
    return network.start_central(stdin_pipe=True)  # the operator's Stop/Resume on stdin


@pytest.fixture
def gateway(network: Network, central: Proc) -> Gateway:
    return Gateway(network, heartbeat=HEARTBEAT)


# what the gateway's calls to the charger are called in each version
REMOTE_START = {"1.6": "RemoteStartTransaction", "2.0.1": "RequestStartTransaction"}
REMOTE_STOP = {"1.6": "RemoteStopTransaction", "2.0.1": "RequestStopTransaction"}


@pytest.fixture(params=["1.6", "2.0.1"])
def version(request: pytest.FixtureRequest) -> str:
    """The OCPP version the test's chargers speak."""
    return str(request.param)


@dataclass
class OcppRun:
    """What every scenario here works with: the network and its observer, the gateway, the
    chargers the test made (closed at its end) and the OCPP version they speak."""

    network: Network
    gateway: Gateway
    chargers: list[Charger]
    observer: Observer
    version: str

    def charger(self, charger_id: str, password: str = "", **options: Any) -> Charger:
        """A charger of this run's version at the gateway (not connected yet)."""
        charger = Charger(self.gateway.url, charger_id, password, version=self.version, **options)
        self.chargers.append(charger)
        return charger

    def booted(self, **sim: float) -> Charger:
        """A provisioned charger (password from evc-admin) that booted and is ACTIVE."""
        password = self.gateway.set_password(CP)
        if self.gateway.proc is None:
            self.gateway.start()
        charger = self.charger(CP, password, **sim)
        charger.connect()
        assert charger.boot() == "Accepted"
        charger.call("status", "Available")
        self.observer.wait_status(CP, "ACTIVE", 20)
        return charger

    def supplying(self, driver_id: str, cp: str = CP) -> str:
        """A request from the driver's app; returns the session once the supply started."""
        asked = time.monotonic()
        driver = self.network.drivers.get(driver_id) or self.network.start_driver(driver_id)
        driver.send_line(cp)
        started = self.observer.wait(
            "supply_started", 30, since=asked, cp_id=cp, driver_id=driver_id
        )
        return started.session_id

    def charging(self, driver_id: str) -> tuple[Charger, str]:
        """A booted charger (a fast meter, a long supply) supplying ``driver_id``, its first
        progress seen; returns the charger and the session."""
        charger = self.booted(speed=300, charge_seconds=120)
        session = self.supplying(driver_id)
        self.observer.wait("supply_progress", 10, session_id=session)
        return charger, session


@pytest.fixture
def run(
    network: Network,
    gateway: Gateway,
    chargers: list[Charger],
    observer: Observer,
    version: str,
) -> OcppRun:
    """The fixtures every scenario here takes, as one."""
    return OcppRun(network, gateway, chargers, observer, version)


def test_unknown_ids_and_wrong_passwords_are_refused_and_a_boot_makes_the_cp_active(
    run: OcppRun,
) -> None:
    charger = run.booted()
    assert charger.cp is not None and charger.cp.interval == HEARTBEAT

    stranger = run.charger("OCPP-99")
    stranger.connect()  # no password on file: the WebSocket opens, the boot does not
    assert stranger.boot() == "Rejected"
    assert run.observer.status("OCPP-99") is None

    impostor = run.charger(CP, "not-the-password-at-all")
    with pytest.raises(InvalidStatus) as refused:
        impostor.connect()
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        impostor.connect(password="")  # no credentials at all
    assert run.observer.status(CP) == "ACTIVE"  # the real charger is untouched

    # a driver's card at the charger: Authorize asks Central (charge_request, origin cp)
    assert charger.call("authorize", "D-004") == "Accepted"
    assert charger.call("start_transaction", "D-004")
    charger.cp.meter_wh += 1500
    charger.call("stop_transaction")
    (ticket,) = wait_for(lambda: run.network.tickets(cp_id=CP, driver_id="D-004"), 15, "ticket")
    assert (ticket["kwh"], ticket["reason"]) == (1.5, "unplugged")


def test_a_driver_is_charged_and_ticketed_and_centrals_stop_and_resume_reach_the_charger(
    run: OcppRun, central: Proc
) -> None:
    charger = run.booted(speed=300, charge_seconds=3)
    session = run.supplying("D-001")
    ticket = run.network.wait_ticket(session, 30)
    assert charger.cp is not None
    assert charger.cp.received[0] == REMOTE_START[run.version]
    meter_stop = int(charger.cp.meter_wh)  # the meter started at 0 Wh
    assert ticket["kwh"] == round(meter_stop / 1000, 3) and ticket["kwh"] > 0
    assert ticket["eur"] == round(ticket["kwh"] * ticket["price"], 2)
    assert ticket["reason"] == "unplugged"
    progress = run.observer.cp_events("supply_progress", session_id=session)
    assert progress and 0 < progress[-1].kwh <= ticket["kwh"]
    wait_for(lambda: run.network.driver_history("D-001"), 20, "the driver's ticket")
    assert run.network.driver_history("D-001")[0]["kwh"] == ticket["kwh"]
    run.observer.wait_status(CP, "ACTIVE", 10)

    charger.cp.charge_seconds = 120
    session = run.supplying("D-001")
    run.observer.wait("supply_progress", 10, session_id=session)
    central.send_line(f"stop {CP}")
    run.observer.wait_status(CP, "STOPPED", 10)
    stopped = run.network.wait_ticket(session, 15)
    assert stopped["reason"] == "stopped" and stopped["kwh"] > 0
    wait_for(lambda: "ChangeAvailability Inoperative" in charger.cp.received, 10, "Inoperative")
    assert charger.cp.received[-2:] == [REMOTE_STOP[run.version], "ChangeAvailability Inoperative"]
    assert run.observer.status(CP) == "STOPPED"

    central.send_line(f"resume {CP}")
    run.observer.wait_status(CP, "ACTIVE", 10)
    wait_for(lambda: charger.cp.received[-1] == "ChangeAvailability Operative", 10, "Operative")


def test_a_faulted_charger_turns_broken_ends_the_supply_and_tells_the_driver(run: OcppRun) -> None:
    charger, session = run.charging("D-002")
    charger.call("status", "Faulted", "GroundFailure")
    run.observer.wait_status(CP, "BROKEN", 10)
    interrupted = run.observer.wait("supply_interrupted", 10, session_id=session)
    assert interrupted.reason == "fault"
    run.network.drivers["D-002"].wait_line("interrupted", 10)
    ticket = run.network.wait_ticket(session, 15)
    assert ticket["reason"] == "fault" and ticket["kwh"] > 0
    charger.call("status", "Available")
    run.observer.wait_status(CP, "ACTIVE", 10)


def test_a_killed_websocket_disconnects_and_the_replayed_stop_gives_one_ticket(
    run: OcppRun,
) -> None:
    charger, session = run.charging("D-003")
    assert charger.cp is not None
    transaction_id = charger.cp.transaction_id
    killed = time.monotonic()
    charger.kill()
    run.observer.wait_status(CP, "DISCONNECTED", HEARTBEAT + 3)
    assert time.monotonic() - killed <= HEARTBEAT + 3
    assert not run.network.tickets(session_id=session)  # the meter's final reading is awaited

    # back online: no BootNotification (it did not reboot), the queued messages first
    charger.meter_wh += 2500  # it went on charging while offline
    charger.connect()
    cp = charger.cp
    assert cp is not None
    cp.transaction_id = transaction_id
    cp.meter_wh = charger.meter_wh
    charger.call("send_meter")
    charger.call("stop_transaction")
    cp.transaction_id = transaction_id
    charger.call("stop_transaction")  # replayed twice (its answer was lost): still one end
    charger.call("status", "Available")
    ticket = run.network.wait_ticket(session, 15)
    assert ticket["kwh"] == round(int(charger.meter_wh) / 1000, 3)
    assert ticket["eur"] == round(ticket["kwh"] * ticket["price"], 2)
    run.observer.wait_status(CP, "ACTIVE", 10)
    assert len(run.network.tickets(session_id=session)) == 1
    assert len(run.observer.cp_events("supply_ended", session_id=session)) == 1

    # a charger that stays connected but falls silent (hung firmware, half-open TCP)
    charger.beating(False)
    silent = time.monotonic()
    run.observer.wait_status(CP, "DISCONNECTED", 1.5 * HEARTBEAT + 3 + 1)
    assert time.monotonic() - silent <= 1.5 * HEARTBEAT + 3 + 1


def test_a_gateway_killed_mid_supply_maps_the_replayed_stop_after_its_restart(run: OcppRun) -> None:
    charger, session = run.charging("D-005")
    assert charger.cp is not None and run.gateway.proc is not None
    transaction_id = charger.cp.transaction_id
    run.gateway.proc.kill()  # SIGKILL: what the gateway knows of the transaction is on disk
    charger.kill()
    run.observer.wait_status(CP, "DISCONNECTED", 5)

    run.gateway.start()
    charger.meter_wh += 1000
    charger.connect()
    assert charger.cp is not None
    charger.cp.transaction_id = transaction_id
    charger.call("stop_transaction")
    charger.call("status", "Available")
    ticket = run.network.wait_ticket(session, 15)
    assert ticket["kwh"] == round(int(charger.meter_wh) / 1000, 3)
    run.observer.wait_status(CP, "ACTIVE", 10)


def test_a_card_at_the_charger_reserves_it_for_the_driver_whose_app_says_so(run: OcppRun) -> None:
    """Issue 24, item 6: an Authorize at the charger (the driver's RFID card) reserves it for
    that driver for Central's --authorization-ttl; the driver's app shows the reservation
    (not a "resumed" charge), and another driver's request meets a busy charger."""
    charger = run.booted()
    card_holder = run.network.start_driver("D-004")
    card_holder.wait_line("charging points known", 30)
    assert charger.call("authorize", "D-004") == "Accepted"
    card_holder.wait_line(f"{CP} reserved by your card at {CP}", 20)
    assert "(resumed)" not in card_holder.output()

    card_holder.send_line("CP-01")  # the app knows the driver is expected at the charger
    card_holder.wait_line(f"Reserved by your card at {CP}: plug in there", 10)
    other = run.network.start_driver("D-005")
    other.send_line(CP)
    other.wait_line("charging point is busy", 30)

    # the card's reservation becomes the driver's charge like any other
    assert charger.call("start_transaction", "D-004")
    card_holder.wait_line("supplying", 20)
    assert charger.cp is not None
    charger.cp.meter_wh += 700
    charger.call("stop_transaction")
    (ticket,) = wait_for(lambda: run.network.tickets(cp_id=CP, driver_id="D-004"), 15, "ticket")
    assert ticket["kwh"] == 0.7


def test_a_charger_alone_boots_pending_and_its_offline_charges_are_billed_once(
    run: OcppRun, central: Proc
) -> None:
    """Issue 24, item 5: Central out of reach at boot → Pending with the interval to boot
    again; the charger charges meanwhile with ids it authorized itself (its local list);
    once Central is back, the driver's charge is one ticket with the meter's energy (in the
    app, reconciled) and an id the registry does not know is audited, billed to no one."""
    charger = run.booted()
    driver = run.network.start_driver("D-006")
    driver.wait_line("charging points known", 30)
    central.kill()
    charger.kill()  # the charger reboots while Central is down
    charger.connect()
    # Pending once the gateway's link to Central has seen it go (Accepted before that)
    wait_for(lambda: charger.boot() == "Pending", 20, "Pending while Central is down")
    assert charger.cp is not None and charger.cp.boot_interval == HEARTBEAT

    # alone: the driver's card from its local list, then a card nobody registered
    assert charger.call("start_transaction", "D-006")
    transaction_id = charger.cp.transaction_id
    charger.cp.meter_wh += 1800
    charger.call("stop_transaction")
    charger.cp.transaction_id = transaction_id
    charger.call("stop_transaction")  # replayed (its answer was lost): still one end
    assert charger.call("start_transaction", "CARD-77")
    charger.cp.meter_wh += 700
    charger.call("stop_transaction")

    run.network.start_central(stdin_pipe=True)
    wait_for(lambda: charger.boot() == "Accepted", 30, "Accepted once Central answers")
    (ticket,) = wait_for(lambda: run.network.tickets(cp_id=CP, driver_id="D-006"), 30, "ticket")
    assert (ticket["kwh"], ticket["origin"]) == (1.8, "offline")
    assert ticket["eur"] == round(1.8 * ticket["price"], 2)
    (shown,) = wait_for(lambda: run.network.driver_history("D-006"), 20, "the driver's ticket")
    assert shown["kwh"] == 1.8
    reconciled = run.network.admin("reconcile")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    audit = run.network.admin("audit", "--limit", "50").stdout
    assert "offline_unknown_id" in audit and "CARD-77" in audit and "0.700 kWh" in audit
    assert not run.network.sessions("driver_id = ?", ("CARD-77",))
    assert len(run.network.tickets(cp_id=CP, driver_id="D-006")) == 1


def test_each_connector_is_a_cp_billed_on_its_own_and_a_fault_of_connector_0_breaks_all(
    run: OcppRun,
) -> None:
    """Issue 24, item 4: a charger with two connectors (``--connectors OCPP-02=2``) is the
    CPs OCPP-02-1 and OCPP-02-2 at Central, each enrolled on its own; two drivers charge at
    once, each on the connector of the CP they asked for and billed with its meter's energy;
    a Faulted on connector 0 (2.0.1: EVSE 0) breaks both, and its recovery mends both."""
    charger_id = "OCPP-02"
    cps = [f"{charger_id}-1", f"{charger_id}-2"]
    password = run.gateway.set_password(charger_id, cps)
    run.gateway.extra += ["--connectors", f"{charger_id}=2"]
    run.gateway.start()
    charger = run.charger(charger_id, password, connectors=2, speed=300, charge_seconds=120)
    charger.connect()
    assert charger.boot() == "Accepted"
    for n in (1, 2):
        charger.call("status", "Available", connector=n)
    for cp in cps:
        run.observer.wait_status(cp, "ACTIVE", 20)

    # the first supply has a head start: the two meters differ
    first = run.supplying("D-001", cps[0])
    run.observer.wait("supply_progress", 10, session_id=first)
    second = run.supplying("D-002", cps[1])
    run.observer.wait("supply_progress", 10, session_id=second)
    assert charger.cp is not None
    running = [charger.cp.connectors[n].transaction_id for n in (1, 2)]
    assert None not in running and running[0] != running[1]

    charger.call("status", "Faulted", "GroundFailure", connector=0)
    for cp in cps:
        run.observer.wait_status(cp, "BROKEN", 10)
    tickets = [run.network.wait_ticket(session, 15) for session in (first, second)]
    for ticket, cp, session in zip(tickets, cps, (first, second), strict=True):
        assert (ticket["cp_id"], ticket["reason"]) == (cp, "fault") and ticket["kwh"] > 0
        assert ticket["eur"] == round(ticket["kwh"] * ticket["price"], 2)
        wait_for(  # its own meter: the last reading of its own connector
            lambda s=session, t=ticket: (
                run.observer.cp_events("supply_progress", session_id=s)[-1].kwh == t["kwh"]
            ),
            10,
            f"the last progress of {session} is its ticket",
        )
    assert tickets[0]["kwh"] > tickets[1]["kwh"]

    charger.call("status", "Available", connector=0)
    for cp in cps:
        run.observer.wait_status(cp, "ACTIVE", 10)
