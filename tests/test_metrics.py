"""The metrics' building blocks (``wire.tally``, ``wire.metrics``): lock-free counting, the
HTTP side (/metrics, /healthz, /readyz), the ``--metrics-port`` option and the probe."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from tests.metrics_scrape import check_types, get, scrape, value
from wire.metrics import (
    Collect,
    MetricsServer,
    Readiness,
    address,
    counter,
    gauge,
    histogram,
    one_of,
    probe,
)
from wire.tally import FastHistogram, Tally


def test_fast_histogram_counts_each_value_in_its_le_bucket() -> None:
    hist = FastHistogram((0.1, 0.01, 1.0))  # sorted on the way in
    for v in (0.005, 0.01, 0.02, 0.1, 5.0):
        hist.observe(v)
    buckets, total = hist.buckets()
    assert buckets == [(0.01, 2), (0.1, 4), (1.0, 4), (float("inf"), 5)]
    assert total == pytest.approx(5.135)
    assert hist.count == 5


def test_tally_exports_its_known_keys_at_zero() -> None:
    tally = Tally("a", "b")
    tally.add("b")
    tally.add("c", 2.5)
    assert tally.snapshot() == {"a": 0, "b": 1, "c": 2.5}
    assert tally["c"] == 2.5 and tally["z"] == 0


def test_address_takes_a_port_or_an_address_and_a_port() -> None:
    assert address("9101") == ("127.0.0.1", 9101)
    assert address("0.0.0.0:9101") == ("0.0.0.0", 9101)
    assert address("[::1]:0") == ("::1", 0)
    for bad in ("", "x", ":9101", "70000", "host:port"):
        with pytest.raises(argparse.ArgumentTypeError):
            address(bad)


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    hist = FastHistogram((0.5, 1.0))
    hist.observe(0.7)
    verdict = [Readiness(True, "ready: test")]

    def collect():  # type: ignore[no-untyped-def]
        yield counter("evc_test_things_total", "things", 3)
        yield counter("evc_test_kinds_total", "kinds", {"x": 1, "y": 2}, "kind")
        yield gauge("evc_test_state", "state", one_of("B", ("A", "B")), "state")
        yield histogram("evc_test_seconds", "seconds", hist)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collect(collect))
    made = MetricsServer("127.0.0.1", 0, registry, lambda: verdict[0]).start()
    made.verdict = verdict  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        made.close()


def test_the_server_answers_metrics_and_probes(server: MetricsServer) -> None:
    families = scrape(server.port)
    check_types(
        families,
        {
            "evc_test_things_total": "counter",
            "evc_test_kinds_total": "counter",
            "evc_test_state": "gauge",
            "evc_test_seconds": "histogram",
        },
    )
    assert value(families, "evc_test_things_total") == 3
    assert value(families, "evc_test_kinds_total", kind="y") == 2
    assert value(families, "evc_test_state", state="A") == 0
    assert value(families, "evc_test_state", state="B") == 1
    assert value(families, "evc_test_seconds_bucket", le="0.5") == 0
    assert value(families, "evc_test_seconds_bucket", le="1.0") == 1
    assert value(families, "evc_test_seconds_bucket", le="+Inf") == 1
    assert value(families, "evc_test_seconds_sum") == pytest.approx(0.7)
    assert get(server.port, "/healthz") == (200, "ok\n")
    assert get(server.port, "/readyz") == (200, "ready: test\n")
    server.verdict[0] = Readiness(False, "standby: waits")  # type: ignore[attr-defined]
    assert get(server.port, "/readyz") == (503, "standby: waits\n")
    assert get(server.port, "/other")[0] == 404


def test_a_failing_collector_or_readiness_never_takes_the_server_down() -> None:
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collect(broken))
    server = MetricsServer("127.0.0.1", 0, registry, broken).start()
    try:
        assert scrape(server.port) == {}
        status, body = get(server.port, "/readyz")
        assert status == 503 and "boom" in body
        assert get(server.port, "/healthz") == (200, "ok\n")
    finally:
        server.close()


@pytest.mark.process  # python -m wire.metrics
def test_the_probe_exits_0_only_for_200(server: MetricsServer) -> None:
    assert probe(f"http://127.0.0.1:{server.port}/healthz") == 0
    server.verdict[0] = Readiness(False, "standby: waits")  # type: ignore[attr-defined]
    assert probe(f"http://127.0.0.1:{server.port}/readyz") == 1
    done = subprocess.run(
        [sys.executable, "-m", "wire.metrics", f"http://127.0.0.1:{server.port}/readyz"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and done.stdout.strip() == "503: standby: waits"
