"""SPEC "When something dies": the Kafka broker stops for 10 s in the middle of supplies.

This test runs a broker of its own (``scripts/kafka-local`` in its tmp dir, data kept across
the restart), never the session's broker, which other tests share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import network_on, own_broker
from tests.e2e.harness import LocalBroker, Network, Observer
from tests.waiting import wait_for
from wire.kafka.topics import Topics

OUTAGE_S = 10.0
SUPPLY_S = 7.0
KWH_PER_S = 22.0 * 20 / 3600
CP_ARGS = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", str(SUPPLY_S), "--speed", "20"]


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBroker]:
    yield from own_broker(request, tmp_path / "kafka")


@pytest.fixture
def own_network(
    request: pytest.FixtureRequest, broker: LocalBroker, tmp_path: Path
) -> Iterator[tuple[Network, Observer]]:
    yield from network_on(request, broker, Topics(prefix="outage."), tmp_path)


def test_broker_down_for_ten_seconds_mid_supply(
    own_network: tuple[Network, Observer], broker: LocalBroker
) -> None:
    network, observer = own_network
    plans = {"D-001": ["CP-01", "CP-01"], "D-002": ["CP-02", "CP-02"]}
    drivers = network.start_supplies(observer, plans, CP_ARGS)

    down_at = time.monotonic()
    broker.stop()
    # everyone notices and says so, and keeps running
    for proc in drivers.values():
        proc.wait_line("Cannot reach CENTRAL (Kafka broker unreachable)", OUTAGE_S, since=down_at)
    for cp in network.cps.values():
        cp.engine.wait_line("Cannot reach Kafka", OUTAGE_S, since=down_at)
    # the outage lasts OUTAGE_S, whatever the checks above took
    wait_for(lambda: time.monotonic() - down_at >= OUTAGE_S, OUTAGE_S + 1, "the outage's end")
    assert all(p.alive for p in network.procs), [p.name for p in network.procs if not p.alive]
    restart_at = time.monotonic()
    broker.start()
    print(
        f"broker stopped for {restart_at - down_at:.1f}s, "
        f"answering again after {time.monotonic() - down_at:.1f}s"
    )

    for driver, proc in drivers.items():
        assert proc.wait_exit(90) == 0, f"{driver}:\n{proc.output()}"
    for ticket in network.assert_ticketed_once(observer, plans):
        # the whole supply was metered and billed, the part during the outage included
        assert ticket["kwh"] >= KWH_PER_S * SUPPLY_S * 0.9, ticket
        progress = observer.cp_events("supply_progress", session_id=ticket["session_id"])
        assert len(progress) >= SUPPLY_S - 2
    for cp_id in ("CP-01", "CP-02"):
        observer.wait_status(cp_id, "ACTIVE", 10)
