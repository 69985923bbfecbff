"""EV_Central's ``--metrics-port`` as a real process (issue 25, docs/operations.md): the
series exist with their names and types, they move (heartbeats, a supply's billed kWh and
EUR, the request's authorization), and the probes answer for an active Central."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.scripted import REPO, CentralProcess, ScriptedNetwork, scripted_network
from tests.central.test_integration import authorized_session
from tests.metrics_scrape import CENTRAL_SERIES, check_types, get, label_values, scrape, value
from tests.procs import free_port
from tests.waiting import wait_for
from wire.kafka.topics import Topics

pytestmark = pytest.mark.process


@pytest.fixture
def observed(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics
) -> Iterator[tuple[int, ScriptedNetwork]]:
    """The metrics port and the scripted network around a Central serving it."""
    port, metrics = free_port(), free_port()
    with scripted_network(
        tmp_path, kafka_bootstrap, topics, port, "--metrics-port", f"127.0.0.1:{metrics}"
    ) as network:
        yield metrics, network


def test_central_exports_its_series_and_they_move(
    observed: tuple[int, ScriptedNetwork],
) -> None:
    metrics, (_, monitor, engine, driver) = observed
    assert get(metrics, "/healthz") == (200, "ok\n")
    wait_for(lambda: get(metrics, "/readyz")[0] == 200, 30, "/readyz 200 (Kafka up)")
    status, body = get(metrics, "/readyz")
    assert body.startswith("ready: ") and "active Central" in body, body
    assert get(metrics, "/nothing")[0] == 404

    # heartbeats: counted, timed, the CP ACTIVE with its monitor connected
    wait_for(lambda: monitor.alive, 10, "the monitor's first ALIVE")

    def beats() -> float:
        return value(scrape(metrics), "evc_central_heartbeats_total") or 0.0

    first = wait_for(beats, 10, "a heartbeat counted")
    wait_for(lambda: beats() >= first + 3, 10, "the heartbeats counter growing")
    families = scrape(metrics)
    check_types(families, CENTRAL_SERIES)
    assert value(families, "evc_central_role", role="active") == 1.0
    assert value(families, "evc_central_role", role="standby") == 0.0
    assert value(families, "evc_central_monitors_connected") == 1.0
    assert value(families, "evc_central_cps", state="ACTIVE") == 1.0
    assert value(families, "evc_central_cps", state="DISCONNECTED") == 11.0  # the rest of the seed
    assert value(families, "evc_central_kafka_up") == 1.0
    assert value(families, "evc_central_db_up") == 1.0
    handled = value(families, "evc_central_heartbeat_handling_seconds_count") or 0
    assert handled >= value(families, "evc_central_heartbeats_total") - 1 >= 0  # type: ignore[operator]
    assert value(families, "evc_central_heartbeat_handling_seconds_bucket", le="+Inf") == handled

    # a supply: request authorized, then ticketed; the billed counters grow by its figures
    auth = authorized_session(engine, driver, "req-m1")
    started_at = engine.started(auth.session_id, "D-003")
    wait_for(
        lambda: value(scrape(metrics), "evc_central_sessions", phase="supplying") == 1.0,
        20,
        "one session supplying",
    )
    engine.ended(auth.session_id, "D-003", 4.0, auth.price, started_at, "unplugged")

    def billed() -> float:
        return value(scrape(metrics), "evc_central_billed_energy_kwh_total") or 0.0

    wait_for(lambda: billed() >= 4.0, 30, "4 kWh billed")
    families = scrape(metrics)
    assert value(families, "evc_central_billed_energy_kwh_total") == pytest.approx(4.0)
    assert value(families, "evc_central_billed_eur_total") == pytest.approx(4.0 * auth.price)
    assert value(families, "evc_central_tickets_total", reason="unplugged") == 1.0
    assert value(families, "evc_central_charge_requests_total", result="authorized") == 1.0
    assert value(families, "evc_central_authorization_seconds_count") == 1.0
    assert (value(families, "evc_central_db_job_seconds_count") or 0) > 0
    assert value(families, "evc_central_sessions", phase="supplying") == 0.0
    assert (value(families, "process_cpu_seconds_total") or 0) > 0

    # a denial is counted by its reason code (CP-09 is seeded, its monitor not connected)
    driver.request("req-m2", "CP-09")
    wait_for(
        lambda: (
            value(scrape(metrics), "evc_central_charge_requests_total", result="cp_not_available")
            == 1.0
        ),
        30,
        "the denial counted",
    )
    assert "D-003" not in label_values(scrape(metrics)), "a driver id in a label"
    wait_for(
        lambda: value(scrape(metrics), "evc_central_kafka_consumer_lag_events") == 0.0,
        10,
        "the consumer's lag known, nothing left to read",
    )


def test_a_busy_metrics_port_ends_central_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        central = CentralProcess(
            tmp_path, "127.0.0.1:1", Topics("m."), free_port(), "--metrics-port", str(busy)
        )
        done = subprocess.run(
            central.args,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done
    assert f"cannot serve metrics on 127.0.0.1:{busy}" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def spawn(central: CentralProcess) -> None:
    """Start without waiting for the monitors' port (a standby refuses every session)."""
    central.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(central.log_path, "ab") as out:
        central.proc = subprocess.Popen(
            central.args,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )


def test_a_standby_says_so_and_is_ready_once_it_took_over(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, pg_url: str
) -> None:
    ports = {name: (free_port(), free_port()) for name in ("a", "b")}
    pair = {
        name: CentralProcess(
            tmp_path / name,
            kafka_bootstrap,
            topics,
            port,
            *("--db", pg_url, "--central-id", f"central-{name}"),
            *("--metrics-port", str(metrics)),
        )
        for name, (port, metrics) in ports.items()
    }
    a, b = pair["a"], pair["b"]
    (_, ma), (_, mb) = ports["a"], ports["b"]
    try:
        a.start()
        wait_for(lambda: get(ma, "/readyz")[0] == 200, 30, "central-a ready")
        spawn(b)
        wait_for(
            lambda: get(mb, "/readyz")[1].startswith("standby: central-b"),
            30,
            "central-b saying it is the standby",
        )
        assert get(mb, "/readyz")[0] == 503
        assert get(mb, "/healthz") == (200, "ok\n")  # alive all the same
        standby = scrape(mb)
        assert value(standby, "evc_central_role", role="standby") == 1.0
        assert value(standby, "evc_central_cps", state="DISCONNECTED") is None  # serves nothing
        lease = value(scrape(ma), "evc_central_lease_age_seconds")
        assert lease is not None and 0 <= lease < 2

        a.kill()  # SIGKILL: PostgreSQL ends its lock session, central-b takes the lock
        wait_for(lambda: get(mb, "/readyz")[0] == 200, 30, "central-b ready after the takeover")
        assert "central-b is the active Central" in get(mb, "/readyz")[1]
        active = scrape(mb)
        assert value(active, "evc_central_role", role="active") == 1.0
        assert value(active, "evc_central_info", central_id="central-b") == 1.0
        assert value(active, "evc_central_lease_age_seconds") is not None
    finally:
        for central in pair.values():
            central.kill()
