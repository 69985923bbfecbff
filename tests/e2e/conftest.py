"""Fixtures for the end-to-end tests: a ``Network`` of real processes and a Kafka observer.

Each test gets its own topic prefix (``topics``), data directories and ports, so the tests
share the session broker. When a test fails, the tail of every program's log is printed
(the full logs stay in the test's ``tmp_path/logs``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Network, Observer
from wire.kafka.topics import Topics


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


def make_network(request: pytest.FixtureRequest, kafka: str, topics: Topics, tmp: Path):
    network = Network(kafka, topics, tmp)
    try:
        yield network
    finally:
        network.close()
        if request.node.stash.get(FAILED, True):
            dump_logs(network)
    shown = network.tracebacks()
    assert not shown, f"a program showed a traceback: {shown} (logs in {network.logs})"


@pytest.fixture
def network(
    request: pytest.FixtureRequest, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> Iterator[Network]:
    yield from make_network(request, kafka_bootstrap, topics, tmp_path)


@pytest.fixture
def observer(kafka_bootstrap: str, topics: Topics) -> Iterator[Observer]:
    watching = Observer(kafka_bootstrap, topics)
    yield watching
    watching.close()
