"""Central as a real process with the real broker, a scripted CP and a scripted driver."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.scripted import (
    CentralProcess,
    Driver,
    FakeEngine,
    ScriptedNetwork,
    read_network_state,
    scripted_network,
)
from tests.procs import free_port, run_module
from tests.waiting import wait_for
from wire.kafka.messages import Authorize, CpState, Ticket
from wire.kafka.topics import Topics

pytestmark = pytest.mark.kafka


def tickets_in_db(db: Path, session_id: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT kwh, eur, reason, status FROM sessions WHERE session_id = ? AND status = 'ticketed'",
            (session_id,),
        ).fetchall()


@pytest.fixture
def network(tmp_path: Path, kafka_bootstrap: str, topics: Topics) -> Iterator[ScriptedNetwork]:
    with scripted_network(tmp_path, kafka_bootstrap, topics, free_port()) as parts:
        yield parts


def authorized_session(engine: FakeEngine, driver: Driver, request_id: str) -> Authorize:
    driver.request(request_id, "CP-05")

    def got_authorize() -> Authorize | None:
        for cmd in engine.poll():
            if isinstance(cmd, Authorize) and cmd.request_id == request_id:
                return cmd
        return None

    return wait_for(got_authorize, 30, "the authorize command at the engine")


def test_full_supply_is_authorized_relayed_and_ticketed_once(
    network: ScriptedNetwork, kafka_bootstrap: str, topics: Topics
) -> None:
    central, monitor, engine, driver = network
    wait_for(lambda: monitor.alive, 10, "the monitor's first ALIVE")
    auth = authorized_session(engine, driver, "req-1")
    assert (
        auth.cp_id == "CP-05" and auth.driver_id == "D-003" and auth.price == 0.35
    )  # seeded CP-05
    started_at = engine.started(auth.session_id, "D-003")
    for seq, kwh in enumerate((0.5, 1.0, 1.5)):
        engine.progress(auth.session_id, "D-003", seq, kwh, auth.price)
    engine.ended(auth.session_id, "D-003", 2.0, auth.price, started_at, "unplugged")
    engine.ended(auth.session_id, "D-003", 2.0, auth.price, started_at, "unplugged")  # redelivered

    wait_for(lambda: "ticket" in (driver.poll() and driver.types()), 30, "the ticket notice")
    types = driver.types()
    assert types[:3] == ["request_received", "authorized", "supply_started"], types
    assert types.count("supply_progress") == 3
    tickets = [n for n in driver.notices if isinstance(n, Ticket)]
    assert len(tickets) == 1
    assert (tickets[0].kwh, tickets[0].eur, tickets[0].reason) == (2.0, 0.7, "unplugged")
    assert tickets_in_db(central.db_path, auth.session_id) == [(2.0, 0.7, "unplugged", "ticketed")]

    def saw_supplying_then_active(got: list) -> bool:
        states = [r.event.status for r in got if r.key == "CP-05"]
        return "SUPPLYING" in states and states[-1] == "ACTIVE"

    states = read_network_state(kafka_bootstrap, topics, saw_supplying_then_active)
    assert all(
        isinstance(r.event, CpState) and "D-003" not in r.event.to_json().decode() for r in states
    )


def test_denials_reach_the_driver(network: ScriptedNetwork) -> None:
    monitor, driver = network.monitor, network.driver
    wait_for(lambda: monitor.alive, 10, "the monitor's first ALIVE")
    driver.request("req-x", "CP-09")  # seeded but its monitor is not connected
    wait_for(lambda: "denied" in (driver.poll() and driver.types()), 30, "denied")
    denied = [n for n in driver.notices if n.TYPE == "denied"][0]
    assert denied.reason == "cp_not_available: DISCONNECTED"


def test_sigkill_mid_supply_then_restart_gives_exactly_one_ticket(network: ScriptedNetwork) -> None:
    central, monitor, engine, driver = network
    wait_for(lambda: monitor.alive, 10, "the monitor's first ALIVE")
    auth = authorized_session(engine, driver, "req-k")
    started_at = engine.started(auth.session_id, "D-003")
    engine.progress(auth.session_id, "D-003", 0, 0.4, auth.price)
    wait_for(
        lambda: "supply_progress" in (driver.poll() and driver.types()), 30, "progress relayed"
    )

    central.kill()  # SIGKILL mid-supply
    # the CP finishes its supply while Central is down; Kafka keeps the events
    engine.progress(auth.session_id, "D-003", 1, 0.8, auth.price)
    engine.ended(auth.session_id, "D-003", 1.2, auth.price, started_at, "unplugged")
    central.start()
    engine.ended(auth.session_id, "D-003", 1.2, auth.price, started_at, "unplugged")  # replayed

    # Without static group membership in wire's EventConsumer the broker first waits for the
    # killed member's session to time out (45 s); see docs/central.md.
    wait_for(lambda: "ticket" in (driver.poll() and driver.types()), 70, "the ticket after restart")
    wait_for(lambda: len(monitor.alive) > 3, 10, "the monitor back")
    driver.poll()
    assert [n.TYPE for n in driver.notices].count("ticket") == 1
    assert tickets_in_db(central.db_path, auth.session_id) == [(1.2, 0.42, "unplugged", "ticketed")]
    assert "restored" in central.log()


def run_central(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m central_app.main ARGS`` run to its end (a minute at most), its output
    captured: for the arguments and situations Central refuses to start with."""
    return run_module("central_app.main", *args)


def test_bad_arguments_and_port_in_use_are_clear(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics
) -> None:
    bad = run_central("--port", "x", "--kafka", "h:1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--port" in bad.stderr
    port = free_port()
    first = CentralProcess(tmp_path / "a", kafka_bootstrap, topics, port)
    try:
        first.start()
        second = run_central(
            "--port",
            str(port),
            "--kafka",
            kafka_bootstrap,
            "--data-dir",
            str(tmp_path / "b"),
            "--no-gui",
            "--insecure",
        )
        assert second.returncode == 2, second
        assert "Traceback" not in second.stderr + second.stdout
        assert f"cannot listen on port {port}" in second.stderr
        assert "loaded" not in second.stdout + second.stderr  # bound first, then loaded
        assert first.terminate() == 0  # SIGTERM stops cleanly
        assert "Traceback" not in first.log()
    finally:
        first.kill()
    db = run_central(
        "--port", "0", "--kafka", kafka_bootstrap, "--db", "nosuch://x", "--no-gui", "--insecure"
    )
    assert db.returncode == 2 and "Traceback" not in db.stderr and "database URL" in db.stderr
