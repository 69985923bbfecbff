"""SPEC "When something dies", Central's part: Central SIGKILLed mid-supply, and the
operator's Stop all / Resume all in the middle of supplies."""

from __future__ import annotations

import time
from collections import Counter

from tests.e2e.harness import Network, Observer
from tests.waiting import wait_for

SIX_SECONDS = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "6", "--speed", "20"]
LONG_SUPPLY = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "60", "--speed", "20"]


def test_central_killed_mid_supply(network: Network, observer: Observer) -> None:
    cps = {"CP-07": "D-007", "CP-08": "D-008"}
    network.start_central()
    for cp_id in cps:
        network.start_cp(cp_id, *SIX_SECONDS, "--manual-driver", "D-012")
    for cp_id in cps:
        network.wait_cp_ready(observer, cp_id)
    for driver in cps.values():
        network.start_driver(driver, None, "--request-timeout", "5")
    network.start_driver("D-009", None, "--request-timeout", "5")
    sessions = {cp_id: network.supplying(observer, d, cp_id) for cp_id, d in cps.items()}

    killed = time.monotonic()
    network.central.kill()

    # the CPs finish their supplies; the events wait in Kafka
    for session in sessions.values():
        ended = observer.wait("supply_ended", 15, session_id=session)
        assert ended.reason == "unplugged" and ended.kwh > 0, ended
    # drivers are told
    for driver in [*cps.values(), "D-009"]:
        network.drivers[driver].wait_line("Cannot reach CENTRAL", 10, since=killed)
    # nothing new is accepted: the technician is refused, a driver's request is not served
    engine = network.cps["CP-07"].engine
    engine.wait_line("Cannot reach CENTRAL: no new supply", 10, since=killed)
    engine.press("m")
    engine.wait_line("Manual supply refused: central unreachable", 5)
    asked = time.monotonic()
    network.drivers["D-009"].send_line("CP-08")
    network.drivers["D-009"].wait_line("Cannot reach CENTRAL", 10, since=asked + 1)
    # Central stays away until that queued request is older than PROTOCOL's 10 s
    wait_for(lambda: time.monotonic() - asked > 11, 12, "the request to grow old")

    restarted = time.monotonic()
    network.start_central()
    for cp_id in cps:  # the monitors are back at once; the supplies still look open
        wait_for(
            lambda c=cp_id: (
                observer.status(c) not in ("DISCONNECTED", None)
                and observer.events("cp_state", since=restarted, cp_id=c)
            ),
            15,
            f"{cp_id} connected again",
        )
    # the backlog of cp events is applied (static group membership: no wait for the killed
    # member's session to expire)
    for session in sessions.values():
        network.wait_ticket(session, 30)
    caught_up = time.monotonic() - restarted
    print(f"Central restart -> tickets after {caught_up:.1f}s")
    for cp_id in cps:
        observer.wait_status(cp_id, "ACTIVE", 10)

    rows = network.sessions()
    assert Counter(r["session_id"] for r in rows).most_common(1)[0][1] == 1
    for session in sessions.values():
        [ticket] = network.tickets(session_id=session)
        ended = observer.cp_events("supply_ended", session_id=session)[-1]
        assert (ticket["kwh"], ticket["reason"]) == (ended.kwh, "unplugged")
        wait_for(lambda s=session: observer.notices("ticket", session_id=s), 10, "ticket notice")
    # the request made while Central was down was never authorized: it expired
    denied = observer.wait("denied", 15, driver_id="D-009")
    assert denied.reason == "expired"
    assert not observer.events("authorize", since=killed, driver_id="D-009")
    # one ticket notice per session, even after the replay
    time_for_duplicates = time.monotonic() + 2
    wait_for(lambda: time.monotonic() > time_for_duplicates, 3, "a moment for duplicates")
    counts = Counter(n.session_id for n in observer.notices("ticket"))
    assert all(counts[s] == 1 for s in sessions.values()), counts
    # and the network serves again
    again = time.monotonic()
    network.drivers["D-009"].send_line("CP-08")
    observer.wait("supply_started", 20, since=again, driver_id="D-009", cp_id="CP-08")


def test_stop_all_and_resume_all_mid_supply(network: Network, observer: Observer) -> None:
    # the headless EV_Central reads the operator's Stop / Resume from its stdin
    central = network.start_central("--ticket-grace", "20", stdin_pipe=True)
    cps = {"CP-10": "D-010", "CP-11": "D-011"}
    for cp_id in cps:
        network.start_cp(cp_id, *LONG_SUPPLY)
    for cp_id in cps:
        network.wait_cp_ready(observer, cp_id)
    for driver in cps.values():
        network.start_driver(driver)
    sessions = {cp_id: network.supplying(observer, d, cp_id) for cp_id, d in cps.items()}

    stopped = time.monotonic()
    central.send_line("stop-all")
    for cp_id, session in sessions.items():
        observer.wait_status(cp_id, "STOPPED", 10)
        ended = observer.wait("supply_ended", 10, session_id=session)
        assert ended.reason == "stopped" and ended.kwh > 0
        ticket = network.wait_ticket(session, 10)
        assert (ticket["kwh"], ticket["eur"], ticket["reason"]) == (
            ended.kwh,
            round(ended.kwh * ticket["price"], 2),
            "stopped",
        )
        interrupted = observer.wait("supply_interrupted", 5, session_id=session)
        assert interrupted.reason == "stopped"
        network.drivers[cps[cp_id]].wait_line("interrupted", 10)
    assert time.monotonic() - stopped < 10
    asked = time.monotonic()
    network.drivers["D-010"].send_line("CP-11")
    denied = observer.wait("denied", 15, since=asked, driver_id="D-010")
    assert denied.reason == "cp_not_available: STOPPED"
    network.cps["CP-10"].engine.press("m")
    network.cps["CP-10"].engine.wait_line("Manual supply refused", 5)

    resumed = time.monotonic()
    central.send_line("resume-all")
    for cp_id in cps:
        observer.wait_status(cp_id, "ACTIVE", 10)
    network.drivers["D-011"].send_line("CP-10")
    observer.wait("supply_started", 20, since=resumed, driver_id="D-011", cp_id="CP-10")
    for session in sessions.values():
        assert len(network.tickets(session_id=session)) == 1
        wait_for(lambda s=session: observer.notices("ticket", session_id=s), 10, "ticket notice")
        assert len(observer.notices("ticket", session_id=session)) == 1
