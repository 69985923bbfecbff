"""Three brokers: one is SIGKILLed in the middle of supplies and nothing is lost or doubled;
then a second one: writes stall (too few in-sync replicas), said clearly, and resume when one
comes back.

The cluster is this test's own (``scripts/kafka-local start --brokers 3``): topics with
replication factor 3 and ``min.insync.replicas=2``, producers with ``acks=all`` and
idempotence. The broker killed is the coordinator of Central's consumer group (and leads a
third of the test's partitions), so the group and the leaders move while the engines report
and Central tickets.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.e2e.conftest import network_on, own_broker
from tests.e2e.harness import LocalBroker, Network, Observer
from tests.e2e.observer import RDLOG
from wire.kafka.admin import topic_config
from wire.kafka.security import with_security
from wire.kafka.topics import Topics

# three brokers started, one killed and restarted, two killed: on two shared cores beside
# other workers its setup alone took 55 s, and pyproject's 120 s (setup + call) cut it short
pytestmark = pytest.mark.timeout(300)

SUPPLY_S = 3.0
CP_ARGS = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", str(SUPPLY_S), "--speed", "20"]


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBroker]:
    yield from own_broker(request, tmp_path / "kafka", brokers=3)


@pytest.fixture
def cluster_network(
    request: pytest.FixtureRequest, cluster: LocalBroker, tmp_path: Path
) -> Iterator[tuple[Network, Observer, Topics]]:
    topics = Topics(prefix="cluster.")
    for network, observer in network_on(request, cluster, topics, tmp_path):
        yield network, observer, topics


def admin_client(cluster: LocalBroker) -> AdminClient:
    return AdminClient(
        with_security(
            {"bootstrap.servers": cluster.bootstrap, "logger": RDLOG},
            cluster.security("admin"),
        )
    )


def leaders(cluster: LocalBroker, topics: Topics) -> Counter[int]:
    """How many of the test's partitions each broker leads."""
    metadata = admin_client(cluster).list_topics(timeout=10)
    names = {spec.name for spec in topics.specs()}
    return Counter(
        p.leader
        for name, topic in metadata.topics.items()
        if name in names
        for p in topic.partitions.values()
    )


def test_one_broker_killed_mid_supply_loses_and_doubles_nothing(
    cluster_network: tuple[Network, Observer, Topics], cluster: LocalBroker
) -> None:
    network, observer, topics = cluster_network
    config = topic_config(cluster.bootstrap, topics.cp_events, security=cluster.security("admin"))
    assert config["min.insync.replicas"] == "2"
    plans = {"D-001": ["CP-01", "CP-01"], "D-002": ["CP-02", "CP-02"]}
    drivers = network.start_supplies(observer, plans, CP_ARGS)

    before = leaders(cluster, topics)
    group = f"{topics.prefix}central"  # Central's consumer group (central_app/runtime.py)
    admin = admin_client(cluster)  # (kept referenced until its future is done)
    asked = admin.describe_consumer_groups([group], request_timeout=10)[group]
    described = asked.result(timeout=15)
    # the worst broker to lose: the coordinator of Central's group (its consumption waits
    # for a new one) and a leader of the test's partitions
    victim = described.coordinator.id
    killed_at = time.monotonic()
    cluster.kill_node(victim)
    print(
        f"killed broker {victim}, coordinator of Central's group and leader of "
        f"{before[victim]} of {before.total()} partitions"
    )

    for driver, proc in drivers.items():
        assert proc.wait_exit(90) == 0, f"{driver}:\n{proc.output()}"
    assert victim not in leaders(cluster, topics)  # the survivors lead everything now
    dead = [p.name for p in network.procs if not p.alive and not p.name.startswith("driver")]
    assert not dead, dead
    network.assert_ticketed_once(observer, plans)
    print(f"all supplies ticketed {time.monotonic() - killed_at:.1f}s after the kill")

    # Two of three down: Central still reaches a broker but nothing it writes (central_alive,
    # every second) is acknowledged; it says so, and catches up when one broker is back.
    central = network.central
    assert central is not None
    second = next(n for n in range(1, 4) if n != victim)
    stalled_at = time.monotonic()
    cluster.kill_node(second)
    central.wait_line("Kafka writes stalled", 15, since=stalled_at)
    cluster.start_node(victim)
    central.wait_line("Kafka writes resumed", 30, since=stalled_at)
    assert central.alive
    print(f"two brokers down: stalled and resumed in {time.monotonic() - stalled_at:.1f}s")
