"""Central frozen (SIGSTOP) past the heartbeat timeout, then thawed (issue 21).

While Central stands still, its monitors' heartbeats wait in the sockets: the first timer
tick after SIGCONT must not count that time as their silence (no CP DISCONNECTED, no supply
ended ``monitor_lost``). A monitor that really died during the freeze (killed: its socket
closes; hung: its socket stays open and silent) still turns its CP DISCONNECTED within a few
seconds of the thaw.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from tests.e2e.harness import Network, Observer, Proc
from tests.waiting import wait_for

FREEZE_S = 5.0  # past the heartbeat timeout (3 s), within the monitors' own (10 s)
SUPPLY = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "15", "--speed", "20"]
PAUSED = "Central was paused for"


def freeze(central: Proc, during: Callable[[], None] = lambda: None) -> float:
    """SIGSTOP Central for ``FREEZE_S`` (``during`` runs meanwhile); returns the thaw time."""
    frozen = time.monotonic()
    central.popen.send_signal(signal.SIGSTOP)
    try:
        during()
        # the freeze is the fault itself, not a wait for a result
        wait_for(lambda: time.monotonic() - frozen >= FREEZE_S, FREEZE_S + 5, "the freeze")
    finally:
        central.popen.send_signal(signal.SIGCONT)
    return time.monotonic()


def test_central_stall_is_not_monitor_silence(network: Network, observer: Observer) -> None:
    central = network.start_central()
    network.start_cp("CP-01", *SUPPLY)
    network.wait_cp_ready(observer, "CP-01")
    network.start_driver("D-001", None, "--request-timeout", "5")
    session = network.supplying(observer, "D-001", "CP-01")

    frozen = time.monotonic()
    thawed = freeze(central)
    # The autopilot unplugs after 15 s: a DISCONNECTED or an interruption caused by the
    # thaw would have been published long before the supply's ticket.
    ticket = network.wait_ticket(session, 30)
    assert ticket["reason"] == "unplugged", ticket
    assert "DISCONNECTED" not in observer.statuses_since("CP-01", frozen)
    assert not observer.notices("supply_interrupted", since=frozen, session_id=session)
    lost = [line for at, line in list(central.lines) if at >= frozen and "DISCONNECTED" in line]
    assert not [line for line in lost if "[CP-01]" in line], lost
    central.wait_line(PAUSED, 5, since=thawed)
    assert sum(PAUSED in line for _, line in list(central.lines)) == 1  # once per stall


def test_central_stall_still_loses_monitors_that_died_meanwhile(
    network: Network, observer: Observer
) -> None:
    central = network.start_central()
    for cp_id in ("CP-02", "CP-03"):
        network.start_cp(cp_id)
    for cp_id in ("CP-02", "CP-03"):
        network.wait_cp_ready(observer, cp_id)
    killed, hung = network.cps["CP-02"].monitor, network.cps["CP-03"].monitor
    assert killed is not None and hung is not None

    def monitors_fail() -> None:
        killed.kill()  # its socket closes; Central reads the EOF after the thaw
        hung.popen.send_signal(signal.SIGSTOP)  # its socket stays open, and silent

    try:
        thawed = freeze(central, monitors_fail)
        for cp_id in ("CP-02", "CP-03"):
            # heartbeat timeout 3 s, counted from the monitor's last heartbeat with the freeze
            # left out, plus a second for Central to read what waited
            wait_for(
                lambda c=cp_id: "DISCONNECTED" in observer.statuses_since(c, thawed),
                6,
                f"{cp_id} DISCONNECTED after the thaw (now {observer.status(cp_id)})",
            )
            print(f"{cp_id} DISCONNECTED {time.monotonic() - thawed:.1f} s after the thaw")
        central.wait_line(PAUSED, 5, since=thawed)
        central.wait_line("no heartbeat", 5, since=thawed)  # the hung one: the watchdog's call
    finally:
        hung.popen.send_signal(signal.SIGCONT)
