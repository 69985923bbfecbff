"""SPEC "When something dies": the Kafka broker stops for 10 s in the middle of supplies.

This test runs a broker of its own (``scripts/kafka-local`` in its tmp dir, data kept across
the restart), never the session's broker, which other tests share.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SECURE, make_network
from tests.e2e.harness import LocalBroker, Network, Observer
from tests.waiting import wait_for
from wire.kafka.acls import grant
from wire.kafka.admin import ensure_topics
from wire.kafka.topics import Topics

OUTAGE_S = 10.0
SUPPLY_S = 7.0
KWH_PER_S = 22.0 * 20 / 3600
CP_ARGS = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", str(SUPPLY_S), "--speed", "20"]


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBroker]:
    own = LocalBroker(
        tmp_path / "kafka", request.getfixturevalue("tls_secrets") if SECURE else None
    )
    own.start()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def own_network(
    request: pytest.FixtureRequest, broker: LocalBroker, tmp_path: Path
) -> Iterator[tuple[Network, Observer]]:
    topics = Topics(prefix="outage.")
    if broker.secrets is not None:
        grant(broker.bootstrap, topics.prefix, broker.security("admin"))
    ensure_topics(broker.bootstrap, topics, security=broker.security("central"))
    broker.warm_up(topics.cp_commands)
    central_db = tmp_path / "net" / "central" / "evcentral.db" if SECURE else None
    observer = Observer(broker.bootstrap, topics, broker.security("admin"), central_db)
    try:
        for network in make_network(
            request, broker.bootstrap, topics, tmp_path / "net", kafka_secure=SECURE
        ):
            yield network, observer
    finally:
        observer.close()


def test_broker_down_for_ten_seconds_mid_supply(
    own_network: tuple[Network, Observer], broker: LocalBroker
) -> None:
    network, observer = own_network
    plans = {"D-001": ["CP-01", "CP-01"], "D-002": ["CP-02", "CP-02"]}
    network.start_central()
    for cp_id in ("CP-01", "CP-02"):
        network.start_cp(cp_id, *CP_ARGS)
    for cp_id in ("CP-01", "CP-02"):
        network.wait_cp_ready(observer, cp_id)
    drivers = {d: network.start_driver(d, cps, pause=0.5) for d, cps in plans.items()}
    for driver in plans:
        wait_for(
            lambda d=driver: observer.notices("supply_progress", driver_id=d),
            30,
            f"{driver} supplying",
        )

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
        assert "ran all 2 entries — 2 finished;" in proc.output(), proc.output()

    for driver in plans:
        db = network.tickets(driver_id=driver)
        history = network.driver_history(driver)
        assert len(db) == 2 and len(history) == 2, (db, history)
        assert {t["session_id"] for t in db} == {h["session_id"] for h in history}
        for ticket in db:
            session = ticket["session_id"]
            ended = observer.cp_events("supply_ended", session_id=session)
            assert len(ended) == 1, ended  # not lost, not duplicated on the wire
            assert (ticket["kwh"], ticket["reason"]) == (ended[0].kwh, "unplugged")
            # the whole supply was metered and billed, the part during the outage included
            assert ticket["kwh"] >= KWH_PER_S * SUPPLY_S * 0.9, ticket
            seqs = [p.seq for p in observer.cp_events("supply_progress", session_id=session)]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
            assert len(seqs) >= SUPPLY_S - 2
    ticketed = {t["session_id"] for t in network.tickets()}
    assert len(ticketed) == 4
    wait_for(
        lambda: {n.session_id for n in observer.notices("ticket")} >= ticketed,
        15,
        "the observer reading every ticket notice",
    )
    counts = Counter(n.session_id for n in observer.notices("ticket"))
    assert set(counts) == ticketed and set(counts.values()) == {1}, counts
    for cp_id in ("CP-01", "CP-02"):
        observer.wait_status(cp_id, "ACTIVE", 10)
