"""What Central says while starting: a busy port, the interfaces it listens on, and a Kafka
broker nobody answers at (librdkafka's own reports stay out of the console)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from confluent_kafka import KafkaError as RdKafkaError

from central_app.config import CentralConfig, StartError
from central_app.runtime import CentralRuntime
from cp_node.engine_service import listening_on
from tests.central.conftest import Recorder
from tests.procs import free_port
from tests.waiting import wait_for
from wire.kafka.quiet import RepeatFilter, log_client_error


def config(tmp_path: Path, name: str, **overrides: object) -> CentralConfig:
    settings: dict = {
        "port": 0,
        "host": "127.0.0.1",
        "kafka": f"127.0.0.1:{free_port()}",
        "db_url": f"sqlite:///{tmp_path / f'{name}.db'}",
        "topic_prefix": "unit.",
        "insecure": True,
        **overrides,
    }
    return CentralConfig(**settings)


def test_a_second_central_on_a_busy_port_fails_before_it_loads_anything(
    central: CentralRuntime, tmp_path: Path
) -> None:
    second = CentralRuntime(config(tmp_path, "second", port=central.port))
    heard = Recorder()
    second.add_listener(heard)
    try:
        with pytest.raises(StartError, match=f"cannot listen on port {central.port}") as caught:
            second.start()
    finally:
        second.stop()
    assert "another EV_Central?" in str(caught.value)
    assert heard.logs == [] and heard.cps == []  # no "loaded 12 charging points"
    assert not (tmp_path / "second.db").exists()  # the database was not even opened


def test_central_says_it_listens_on_all_interfaces_and_how_to_restrict(
    tmp_path: Path, recorder: Recorder
) -> None:
    runtime = CentralRuntime(config(tmp_path, "all", host="0.0.0.0"))
    runtime.add_listener(recorder)
    runtime.start()
    try:
        said = wait_for(
            lambda: [e.text for e in list(recorder.logs) if "listening on" in e.text], 5, "line"
        )
        assert "0.0.0.0" in said[0] and "(all interfaces; --host ADDR restricts it)" in said[0]
    finally:
        runtime.stop()
    assert listening_on("*", 5600) == "port 5600 (all interfaces; --bind ADDR restricts it)"
    assert listening_on("127.0.0.1", 5600) == "127.0.0.1:5600"


def test_librdkafka_broker_down_reports_stay_out_of_the_console(
    central: CentralRuntime, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Central's own "[kafka] … not reachable" line is all an operator sees by default."""
    caplog.set_level(logging.WARNING)
    wait_for(
        lambda: any(e.source == "kafka" and "not reachable" in e.text for e in recorder.logs),
        15,
        "Central's own line about Kafka",
    )
    raw = [r.getMessage() for r in caplog.records if r.name.startswith(("wire.kafka", "confluent"))]
    assert not [m for m in raw if "brokers are down" in m or "Connect to" in m], raw


def test_client_errors_broker_down_is_debug_others_once_per_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("wire.kafka.test")
    caplog.set_level(logging.DEBUG, logger="wire.kafka.test")
    repeats = RepeatFilter()
    for _ in range(3):
        log_client_error(
            log, "kafka producer", RdKafkaError(RdKafkaError._ALL_BROKERS_DOWN), repeats
        )
        log_client_error(log, "kafka producer", RdKafkaError(RdKafkaError._MSG_TIMED_OUT), repeats)
    levels = [(r.levelno, r.getMessage().split(":")[0]) for r in caplog.records]
    assert levels.count((logging.DEBUG, "kafka producer")) == 3
    assert levels.count((logging.WARNING, "kafka producer")) == 1
