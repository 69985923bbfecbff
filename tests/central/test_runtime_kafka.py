"""The runtime in-process with the real broker: operator Stop/Resume on both paths, and a
Central that starts while its broker does not exist yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from central_app.runtime import CentralRuntime
from tests.central.conftest import Recorder, make_runtime, status_of, supplying
from tests.central.scripted import REPO, Driver, Monitor, read_network_state, scripted_cp
from tests.procs import free_port
from tests.waiting import wait_for
from wire.kafka.messages import Resume, Stop, SupplyInterrupted, Ticket
from wire.kafka.topics import Topics

pytestmark = pytest.mark.kafka


def test_operator_stop_ends_the_supply_on_both_paths_and_resume(
    running: CentralRuntime, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> None:
    with scripted_cp(running.port, kafka_bootstrap, topics, "CP-07", "D-001") as cp:
        monitor, engine, driver = cp
        auth, started_at = supplying(running, recorder, cp, "req-s", 0.3)

        running.stop_cp("CP-07").result(5)  # posted: wait until applied
        assert status_of(running, "CP-07") == "STOPPED"
        # the engine's final reading, sent as it ends the supply (Central holds the driver's
        # supply_interrupted up to 2 s for it)
        engine.ended(auth.session_id, "D-001", 0.5, auth.price, started_at, "stopped")
        wait_for(lambda: any(isinstance(c, Stop) for c in engine.poll()), 20, "stop at the engine")
        wait_for(lambda: monitor.alive[-1:] == ["STOPPED"], 5, "ALIVE with STOPPED")
        wait_for(lambda: "ticket" in (driver.poll() and driver.types()), 20, "the ticket")
        # interrupted first, then the ticket, both with the engine's final reading
        ends = [n for n in driver.notices if isinstance(n, SupplyInterrupted | Ticket)]
        assert [(n.TYPE, n.kwh, n.reason) for n in ends] == [
            ("supply_interrupted", 0.5, "stopped"),
            ("ticket", 0.5, "stopped"),
        ]

        running.resume_all().result(5)
        assert status_of(running, "CP-07") == "ACTIVE"
        wait_for(
            lambda: any(isinstance(c, Resume) for c in engine.poll()), 20, "resume at the engine"
        )
        wait_for(lambda: monitor.alive[-1:] == ["ACTIVE"], 5, "ALIVE with ACTIVE")
        phases = [r.phase.value for r in recorder.requests if r.request_id == "req-s"]
        assert phases[:3] == ["received", "authorized", "supplying"] and phases[-1] == "interrupted"


def test_monitor_lost_mid_supply_tickets_last_known_values_after_grace(
    running: CentralRuntime, kafka_bootstrap: str, topics: Topics
) -> None:
    with scripted_cp(running.port, kafka_bootstrap, topics, "CP-08", "D-002") as cp:
        monitor, engine, driver = cp
        wait_for(lambda: status_of(running, "CP-08") == "ACTIVE", 10, "CP-08 ACTIVE")
        driver.request("req-m", "CP-08")
        auth = engine.authorization()
        engine.started(auth.session_id, "D-002")
        engine.progress(auth.session_id, "D-002", 0, 0.9, auth.price)
        wait_for(lambda: "supply_progress" in (driver.poll() and driver.types()), 20, "progress")
        monitor.stop()  # the monitor dies; the (fake) engine never reports the end
        wait_for(lambda: status_of(running, "CP-08") == "DISCONNECTED", 10, "DISCONNECTED")
        wait_for(lambda: "ticket" in (driver.poll() and driver.types()), 20, "fallback ticket")
        ticket = next(n for n in driver.notices if isinstance(n, Ticket))
        assert (ticket.kwh, ticket.reason) == (0.9, "monitor_lost")
        assert ticket.eur == round(0.9 * auth.price, 2)
        # the engine's late report amends that provisional ticket once (issue 21); a repeat of
        # it changes nothing
        engine.ended(auth.session_id, "D-002", 1.0, auth.price, "t", "monitor_lost")
        engine.ended(auth.session_id, "D-002", 1.0, auth.price, "t", "monitor_lost")
        wait_for(  # the amendment is written first, then sent
            lambda: (driver.poll() and driver.types()).count("ticket") >= 2,
            20,
            "the amended ticket",
        )
        driver.request("req-m2", "CP-01")  # something after both ends, to know Central got that far
        wait_for(lambda: "denied" in (driver.poll() and driver.types()), 20, "next answer")
        tickets = [n for n in driver.notices if isinstance(n, Ticket)]
        assert [(t.kwh, t.was_kwh) for t in tickets] == [(0.9, None), (1.0, 0.9)]
        assert tickets[1].eur == round(1.0 * auth.price, 2)


KAFKA_LOCAL = REPO / "scripts" / "kafka-local"


def test_central_started_without_broker_serves_monitors_and_catches_up(
    tmp_path: Path, recorder: Recorder
) -> None:
    port = free_port()
    kafka = f"127.0.0.1:{port}"
    topics = Topics("late.")
    runtime = make_runtime(tmp_path, kafka, topics, recorder)
    runtime.start()
    monitor = Monitor(runtime.port, "CP-02")
    run_dir = tmp_path / "kafka"
    try:
        monitor.start()
        wait_for(lambda: status_of(runtime, "CP-02") == "ACTIVE", 10, "served without Kafka")
        assert not any(link.kafka_up for link in recorder.links)
        started = subprocess.run(
            [
                sys.executable,
                str(KAFKA_LOCAL),
                "start",
                "--port",
                str(port),
                "--run-dir",
                str(run_dir),
                "--insecure",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        wait_for(lambda: any(link.kafka_up for link in recorder.links), 60, "Central sees Kafka up")

        def caught_up(got: list) -> bool:
            """CP-02 ACTIVE and the whole network there: the topic has 6 partitions, so one
            of them can be read to CP-02 while another is not read yet (a fresh-clone CI
            run stopped at CP-02 with 3 CPs read)."""
            seen = {r.key for r in got}
            active = any(r.key == "CP-02" and r.event.status == "ACTIVE" for r in got)
            return active and seen >= {"CP-01", "CP-12"}

        read_network_state(kafka, topics, caught_up, timeout=60)
        # and it now answers requests
        driver = Driver(kafka, topics, "D-004")
        try:
            driver.request("req-late", "CP-02")
            wait_for(lambda: "authorized" in (driver.poll() and driver.types()), 60, "authorized")
        finally:
            driver.close()
    finally:
        monitor.stop()
        runtime.stop()
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "stop", "--run-dir", str(run_dir)],
            capture_output=True,
            timeout=120,
        )
