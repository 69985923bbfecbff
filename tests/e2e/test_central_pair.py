"""Two Centrals on one PostgreSQL database: one active, one standby (central_app.leadership).
These are also the end-to-end supplies against PostgreSQL (``scripts/pg-local``). The first
two run on MariaDB as well (``scripts/maria-local``, the pair's lock there ``GET_LOCK``), the
Centrals given the brief's ``--db mysql://user:pass@127.0.0.1:PORT/db``.

- The active is SIGKILLed mid-supply: the standby takes over, the monitor moves to it, the
  supply finishes with exactly one ticket, a request sent in the gap is answered, and the
  driver sees which Central serves it.
- The active is frozen (SIGSTOP) mid-supply: the standby takes over once the lease runs out;
  thawed (SIGCONT), the old active finds itself deposed, steps down without writing or
  sending anything (the supply is ticketed once, as unplugged, by the new active; the epoch
  in the database is the new one's) and waits as the standby.
"""

from __future__ import annotations

import signal
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from central_app.db import engine_url
from central_app.leadership import LEASE_S
from tests.e2e.harness import Network, Observer, Proc, free_port
from tests.waiting import wait_for

SUPPLY = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "8", "--speed", "20"]
ACTIVE = "took over as the active Central"
STANDBY = "standby: monitors refused"


def start_pair(network: Network) -> tuple[Proc, Proc]:
    """central-a (active, it starts first) and central-b (standby)."""
    network.pair_ports = [free_port(), free_port()]
    procs = []
    for name, port in zip(("central-a", "central-b"), network.pair_ports, strict=True):
        procs.append(network.start_central("--central-id", name, port=port, name=name))
        procs[-1].wait_line(ACTIVE if name == "central-a" else STANDBY, 30)
    return procs[0], procs[1]


def pair_supplying(
    network: Network, observer: Observer, cp_id: str, driver: str
) -> tuple[Proc, Proc, Proc, str]:
    """The pair, ``cp_id`` connected to central-a, and ``driver`` supplying there: (central-a,
    central-b, the CP's monitor, the session)."""
    central_a, central_b = start_pair(network)
    network.start_cp(cp_id, *SUPPLY)
    network.wait_cp_ready(observer, cp_id)
    monitor = network.cps[cp_id].monitor
    assert monitor is not None
    network.start_driver(driver, None, "--request-timeout", "5")
    network.drivers[driver].wait_line("Central online (central-a)", 15)
    return central_a, central_b, monitor, network.supplying(observer, driver, cp_id)


def first_at(proc: Proc, text: str, since: float) -> float:
    return min(at for at, line in proc.lines if text in line and at >= since)


def one_ticket(network: Network, observer: Observer, session: str) -> dict:
    """The session's ticket: once in the database, once to the driver, as unplugged."""
    ticket = network.wait_ticket(session, 30)
    ended = observer.wait("supply_ended", 10, session_id=session)
    assert (ticket["kwh"], ticket["reason"]) == (ended.kwh, "unplugged"), ticket
    assert [r["session_id"] for r in network.sessions()].count(session) == 1
    wait_for(lambda: observer.notices("ticket", session_id=session), 10, "the ticket notice")
    assert len(observer.notices("ticket", session_id=session)) == 1
    return ticket


def leader(network: Network) -> tuple[int, str]:
    assert network.db_url is not None
    engine = create_engine(engine_url(network.db_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT epoch, holder FROM central_leader")).one()
    finally:
        engine.dispose()
    return row[0], row[1]


def test_active_killed_mid_supply_the_standby_takes_over(
    pg_network: Network, pg_observer: Observer
) -> None:
    active_killed_mid_supply(pg_network, pg_observer)


def test_on_mariadb_the_active_killed_mid_supply_the_standby_takes_over(
    maria_network: Network, maria_observer: Observer
) -> None:
    active_killed_mid_supply(maria_network, maria_observer)


def active_killed_mid_supply(network: Network, observer: Observer) -> None:
    central_a, central_b, monitor, session = pair_supplying(network, observer, "CP-01", "D-001")
    driver = network.drivers["D-001"]

    other = network.start_driver("D-009", None, "--request-timeout", "5")
    other.wait_line("Central online (central-a)", 15)
    first_epoch, holder = leader(network)
    assert holder == "central-a"

    killed = time.monotonic()
    central_a.kill()
    other.send_line("CP-01")  # asked in the gap: queued in Kafka, answered by central-b
    central_b.wait_line(ACTIVE, 10, since=killed)
    moved = f"Connected to CENTRAL at 127.0.0.1:{network.pair_ports[1]}"
    monitor.wait_line(moved, 10, since=killed)
    active_s = first_at(central_b, ACTIVE, killed) - killed
    reauth_s = first_at(monitor, moved, killed) - killed
    print(f"failover: standby active {active_s:.2f}s, CP re-authenticated {reauth_s:.2f}s")

    one_ticket(network, observer, session)
    denied = observer.wait("denied", 15, since=killed, driver_id="D-009")
    assert denied.reason == "cp_busy", denied
    driver.wait_line("Central online (central-b)", 10, since=killed)
    assert leader(network) == (first_epoch + 1, "central-b")
    assert not network.db_path.exists(), "a Central wrote to SQLite instead of its server"
    central_b.wait_line("| central-b ACTIVE", 10, since=killed)  # its operator's status line
    again = time.monotonic()
    driver.send_line("CP-01")  # the new active serves
    observer.wait("supply_started", 20, since=again, driver_id="D-001", cp_id="CP-01")


def test_frozen_active_is_fenced_and_steps_down(pg_network: Network, pg_observer: Observer) -> None:
    frozen_active_is_fenced(pg_network, pg_observer)


def test_on_mariadb_a_frozen_active_is_fenced_and_steps_down(
    maria_network: Network, maria_observer: Observer
) -> None:
    frozen_active_is_fenced(maria_network, maria_observer)


def frozen_active_is_fenced(network: Network, observer: Observer) -> None:
    central_a, central_b, monitor, session = pair_supplying(network, observer, "CP-02", "D-002")
    first_epoch, _ = leader(network)

    frozen = time.monotonic()
    central_a.popen.send_signal(signal.SIGSTOP)
    try:
        central_b.wait_line(ACTIVE, LEASE_S + 10, since=frozen)
        active_s = first_at(central_b, ACTIVE, frozen) - frozen
        # frozen past the heartbeat timeout (3 s): a thawed Central without fencing would now
        # declare the monitor lost and end the supply
        wait_for(lambda: time.monotonic() - frozen > 4.5, 5, "a freeze past the heartbeat timeout")
    finally:
        central_a.popen.send_signal(signal.SIGCONT)
    thawed = time.monotonic()
    central_a.wait_line("stepped down", 10, since=thawed)
    # stepping down closed the monitor's session: it moves to the new active at once
    moved = f"Connected to CENTRAL at 127.0.0.1:{network.pair_ports[1]}"
    monitor.wait_line(moved, 10, since=frozen)
    reauth_s = first_at(monitor, moved, frozen) - frozen
    print(f"frozen active: standby active {active_s:.2f}s, CP re-authenticated {reauth_s:.2f}s")
    central_a.wait_line(STANDBY, 20, since=thawed)
    assert central_a.alive

    one_ticket(network, observer, session)
    assert not observer.events("supply_interrupted", since=frozen, session_id=session)
    assert leader(network) == (first_epoch + 1, "central-b")


def test_monitors_leave_a_frozen_active_within_5_s_of_the_takeover(
    pg_network: Network, pg_observer: Observer
) -> None:
    """Issue 20: an active frozen for good (SIGSTOP, never thawed while it matters): the
    monitors used to wait out their 10 s response time-out on it; now a monitor silent for
    2 s asks the partner whether it took over, and moves within 5 s of the takeover."""
    network, observer = pg_network, pg_observer
    central_a, central_b, monitor, session = pair_supplying(network, observer, "CP-03", "D-003")
    frozen = time.monotonic()
    central_a.popen.send_signal(signal.SIGSTOP)
    try:
        central_b.wait_line(ACTIVE, LEASE_S + 10, since=frozen)
        took_over = first_at(central_b, ACTIVE, frozen)
        moved = f"Connected to CENTRAL at 127.0.0.1:{network.pair_ports[1]}"
        monitor.wait_line(moved, 10, since=frozen)
        after = first_at(monitor, moved, frozen) - took_over
        print(f"frozen for good: monitor on the new active {after:.2f} s after the takeover")
        assert after < 5.0
    finally:
        central_a.popen.send_signal(signal.SIGCONT)
    one_ticket(network, observer, session)


def test_a_standby_with_its_window_shows_the_network_then_takes_over(
    pg_network: Network, pg_observer: Observer
) -> None:
    """The control center of a standby opens at once, fed from Kafka (the secured broker's
    ACLs let it read), and becomes the live one when the active Central is killed."""
    network, observer = pg_network, pg_observer
    network.pair_ports = [free_port(), free_port()]
    central_a = network.start_central("--central-id", "central-a", port=network.pair_ports[0])
    central_a.wait_line(ACTIVE, 30)
    network.start_cp("CP-01")
    network.wait_cp_ready(observer, "CP-01")
    central_b = network.start_central(
        "--central-id", "central-b", "--log-level", "INFO", port=network.pair_ports[1], gui=True
    )
    central_b.wait_line(STANDBY, 30)
    central_b.wait_line("standby view: ", 20)  # the window's rows: the network state read
    killed = time.monotonic()
    central_a.popen.kill()
    central_b.wait_line(ACTIVE, 15, since=killed)
    monitor = network.cps["CP-01"].monitor
    assert monitor is not None
    monitor.wait_line(f"Connected to CENTRAL at 127.0.0.1:{network.pair_ports[1]}", 15)
    assert central_b.alive
    assert "not authorized" not in central_b.output()
    assert "Traceback" not in central_b.output()
