"""Central's metrics in-process (``central_app.metrics``, ``central_app.counts``): what the
scrape reads from a running runtime, the readiness of each role, and the counting rules."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from central_app.config import CentralConfig
from central_app.counts import CentralCounts
from central_app.metrics import collect, readiness
from central_app.runtime import CentralRuntime
from tests.central.conftest import client, register_and_auth
from wire.metrics import Collect
from wire.tcp_messages import Alive, EngineHealth, Heartbeat


def exported(runtime: CentralRuntime | None) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collect(lambda: collect(lambda: runtime)))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_running_central_counts_heartbeats_and_cps(central: CentralRuntime) -> None:
    before = exported(central)
    assert before[("evc_central_cps", (("state", "DISCONNECTED"),))] == 12  # the seed
    assert before[("evc_central_heartbeats_total", ())] == 0
    assert before[("evc_central_kafka_up", ())] == 0  # a dead port
    c = client(central)
    try:
        register_and_auth(c, "CP-77")
        for _ in range(3):
            assert isinstance(c.request(Heartbeat("CP-77", EngineHealth.OK)), Alive)
        after = exported(central)
    finally:
        c.close()
    assert after[("evc_central_heartbeats_total", ())] == 3
    assert after[("evc_central_heartbeat_handling_seconds_count", ())] == 3
    assert after[("evc_central_cps", (("state", "ACTIVE"),))] == 1
    assert after[("evc_central_monitors_connected", ())] == 1
    assert after[("evc_central_role", (("role", "active"),))] == 1
    verdict = readiness(lambda: central)
    assert not verdict.ready and verdict.reason == "not ready: Kafka not reachable"


def test_readiness_says_standby_and_starting(tmp_path: Path) -> None:
    assert readiness(lambda: None).reason == "starting"
    runtime = CentralRuntime(
        CentralConfig(port=0, kafka="127.0.0.1:1", db_url=f"sqlite:///{tmp_path / 'c.db'}")
    )
    verdict = readiness(lambda: runtime)
    assert not verdict.ready and verdict.reason.startswith("starting")
    runtime.pair.role = "standby"  # what stand_by sets while it waits for the pair's lock
    verdict = readiness(lambda: runtime)
    assert not verdict.ready and verdict.reason.startswith("standby: ")
    series = exported(runtime)
    assert series[("evc_central_role", (("role", "standby"),))] == 1
    assert ("evc_central_heartbeats_total", ()) not in series  # a standby serves nothing


def test_a_stopped_central_is_no_longer_read(central: CentralRuntime) -> None:
    central.stop()
    assert ("evc_central_cps", (("state", "ACTIVE"),)) not in exported(central)
    assert not readiness(lambda: central).ready


def test_counts_keep_counters_growing_and_labels_bounded() -> None:
    counts = CentralCounts()
    counts.request("cp_not_available: DISCONNECTED")
    counts.request("authorized", 0.02)
    counts.request("something new: x")
    assert counts.requests["cp_not_available"] == 1
    assert counts.requests["authorized"] == 1 and counts.authorize.count == 1
    assert counts.requests["other"] == 1
    counts.ticketed("fault", 2.0, 0.7)
    counts.ticketed("made up", 1.0, 0.35)
    assert counts.tickets["fault"] == 1 and counts.tickets["other"] == 1
    # a provisional ticket of 2 kWh amended up to 3, another of 1 kWh down to 0.5
    counts.amended_ticket(2.0, 0.7, 3.0, 1.05)
    counts.amended_ticket(1.0, 0.35, 0.5, 0.18)
    assert counts.billed_kwh == pytest.approx(4.0)
    assert counts.billed_eur == pytest.approx(1.4)
    assert counts.credited_kwh == pytest.approx(0.5)
    assert counts.credited_eur == pytest.approx(0.17)
    assert counts.amended == 2


def test_the_lease_age_of_a_paired_active(central: CentralRuntime) -> None:
    class Lease:  # a renewal 1.5 s ago (leadership.Leadership's figures)
        renewed_at = time.monotonic() - 1.5

        def holds(self, now: float) -> bool:
            return True

    central.pair.leadership = Lease()  # type: ignore[assignment]
    try:
        age = exported(central)[("evc_central_lease_age_seconds", ())]
    finally:
        central.pair.leadership = None
    assert 1.5 <= age < 10
