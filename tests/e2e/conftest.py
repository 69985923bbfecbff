"""Fixtures for the end-to-end tests: a ``Network`` of real processes and a Kafka observer.

Each test gets its own topic prefix (``topics``), data directories and ports, so the tests
share the session broker. When a test fails, the tail of every program's log is printed
(the full logs stay in the test's ``tmp_path/logs``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.harness import LocalBroker, Network, Observer
from wire.kafka.acls import grant
from wire.kafka.admin import ensure_topics
from wire.kafka.topics import Topics
from wire.pki import Secrets

if TYPE_CHECKING:
    from tests.e2e.ocpp_helpers import Charger

# The one switch: EVC_E2E_SECURE=1 runs every e2e network with security on (TLS on the
# monitor link, from a session secrets directory, and the secured broker ``secure_kafka``
# with each program's role credentials); otherwise the programs get --insecure.
SECURE = os.environ.get("EVC_E2E_SECURE", "1") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end tests with the real programs as processes and a real broker"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.kafka)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


def dump_logs(network: Network, lines: int = 40) -> None:
    for proc in network.procs:
        tail = [line for _, line in proc.lines][-lines:]
        print(f"----- {proc.name} (exit {proc.popen.returncode}) {proc.log_path} -----")
        print("\n".join(tail))


def make_network(
    request: pytest.FixtureRequest,
    kafka: str,
    topics: Topics,
    tmp: Path,
    secrets: Secrets | None = None,
    kafka_secure: bool = SECURE,
    db_url: str | None = None,
):
    """A Network in ``tmp`` (its Central on SQLite there, or on the server of ``db_url``);
    closed at the end, its logs shown when the test failed, no program's traceback allowed."""
    if secrets is None and SECURE:
        secrets = request.getfixturevalue("tls_secrets")
    network = Network(kafka, topics, tmp, secrets=secrets, kafka_secure=kafka_secure, db_url=db_url)
    try:
        yield network
    finally:
        network.close()
        if request.node.stash.get(FAILED, True):
            dump_logs(network)
    shown = network.tracebacks()
    assert not shown, f"a program showed a traceback: {shown} (logs in {network.logs})"


def own_broker(
    request: pytest.FixtureRequest, run_dir: Path, brokers: int = 1
) -> Iterator[LocalBroker]:
    """A broker (``brokers=3``: a cluster) of the test's own, which it may stop and restart,
    secured when the run is; stopped at the end."""
    own = LocalBroker(run_dir, request.getfixturevalue("tls_secrets") if SECURE else None, brokers)
    own.start()
    try:
        yield own
    finally:
        own.stop(now=True)


def network_on(
    request: pytest.FixtureRequest, broker: LocalBroker, topics: Topics, tmp: Path
) -> Iterator[tuple[Network, Observer]]:
    """The network (in ``tmp``/net) on a broker of the test's own, with its ``topics``
    granted, created and warm, and an observer of them."""
    if broker.secrets is not None:
        grant(broker.bootstrap, topics.prefix, broker.security("admin"))
    ensure_topics(broker.bootstrap, topics, security=broker.security("central"))
    broker.warm_up(topics.cp_commands)
    central_db = tmp / "net" / "central" / "evcentral.db" if SECURE else None
    observer = Observer(broker.bootstrap, topics, broker.security("admin"), central_db)
    try:
        for network in make_network(
            request, broker.bootstrap, topics, tmp / "net", kafka_secure=SECURE
        ):
            yield network, observer
    finally:
        observer.close()


@pytest.fixture
def chargers() -> Iterator[list[Charger]]:
    """The OCPP chargers a test made (``tests.e2e.ocpp_helpers.Charger``): it appends each
    one, and each is closed at the end, so that no WebSocket outlives its test."""
    made: list[Charger] = []
    yield made
    for charger in made:
        charger.close()


@pytest.fixture
def e2e_kafka(request: pytest.FixtureRequest) -> str:
    """The broker of the e2e networks: the secured one with the switch, else the session's."""
    if SECURE:
        return request.getfixturevalue("secure_kafka").bootstrap
    return request.getfixturevalue("kafka_bootstrap")


@pytest.fixture
def topics(request: pytest.FixtureRequest, e2e_kafka: str) -> Topics:
    """A fresh prefix on ``e2e_kafka``; secured: its ACLs granted, topics created as Central."""
    if SECURE:
        return request.getfixturevalue("secure_kafka").topics()
    created = Topics(prefix=f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(e2e_kafka, created)
    return created


@pytest.fixture
def network(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, tmp_path: Path
) -> Iterator[Network]:
    yield from make_network(request, e2e_kafka, topics, tmp_path)


def make_observer(
    request: pytest.FixtureRequest, kafka: str, topics: Topics, central_db: Path | str
) -> Iterator[Observer]:
    """An observer of ``topics``; secured, it reads the keys from Central's database
    ``central_db`` (the SQLite file or the server's URL), as an auditor could."""
    security = request.getfixturevalue("secure_kafka").security("admin") if SECURE else None
    watching = Observer(kafka, topics, security, central_db if SECURE else None)
    yield watching
    watching.close()


@pytest.fixture
def observer(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, tmp_path: Path
) -> Iterator[Observer]:
    # the networks' Central keeps its database here (Network.db_path)
    yield from make_observer(request, e2e_kafka, topics, tmp_path / "central" / "evcentral.db")


@pytest.fixture
def pg_network(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, tmp_path: Path, pg_url: str
) -> Iterator[Network]:
    """A network whose Central keeps its database on PostgreSQL (a fresh database)."""
    yield from make_network(request, e2e_kafka, topics, tmp_path, db_url=pg_url)


@pytest.fixture
def pg_observer(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, pg_url: str
) -> Iterator[Observer]:
    """The observer of ``pg_network``: keys read from the PostgreSQL database."""
    yield from make_observer(request, e2e_kafka, topics, pg_url)


@pytest.fixture
def maria_network(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, tmp_path: Path, maria_url: str
) -> Iterator[Network]:
    """A network whose Central keeps its database on MariaDB (a fresh database), named as the
    brief does: ``--db mysql://user:pass@127.0.0.1:PORT/db``."""
    yield from make_network(request, e2e_kafka, topics, tmp_path, db_url=maria_url)


@pytest.fixture
def maria_observer(
    request: pytest.FixtureRequest, e2e_kafka: str, topics: Topics, maria_url: str
) -> Iterator[Observer]:
    """The observer of ``maria_network``: keys read from the MariaDB database."""
    yield from make_observer(request, e2e_kafka, topics, maria_url)
