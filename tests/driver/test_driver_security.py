"""The driver's key (docs/security.md, layer 2): sealed requests, only its own notices, and no
start without the key. Real broker for the runtime; the program itself as a subprocess."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driver_app.driver_key import default_key_file, load_driver_key
from tests.cp.conftest import Collector
from tests.waiting import wait_for
from wire.kafka.consumer import Received
from wire.kafka.messages import REQUESTS, ChargeRequest, Event, RequestReceived
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import driver_kid, key_bytes, new_key, open_value, seal

REPO = Path(__file__).resolve().parents[2]


class RawRequests(Collector):
    """Every value on evc.requests, unopened: (kafka key, bytes)."""

    def _on(self, received: Received) -> None:
        assert isinstance(received.event, RawValue)
        self.events.append((0.0, received.event))  # type: ignore[arg-type]


def _sealed_notice(event: Event, key: bytes, driver_id: str = "D-001") -> bytes:
    return seal(event, key=key, kid=driver_kid(driver_id), topic="evc.driver.notices")


@pytest.mark.kafka
def test_requests_are_sealed_and_only_own_notices_are_read(
    start_driver, central, kafka_bootstrap, topics, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="driver_app.driver_key")
    key, stranger = key_bytes(new_key()), key_bytes(new_key())
    central.publish_seed()
    central.set_alive(True)
    raw = RawRequests(kafka_bootstrap, topics.requests, RawCodec())
    try:
        runtime, _ = start_driver("D-001", key=key)
        wait_for(lambda: runtime.core.network_loaded, 10, "the network view")
        assert runtime.request("CP-01").result(10) is None
        value = wait_for(lambda: [e.value for _, e in raw.events], 10, "a request")[-1]
        kid, request = open_value(
            value, keys=lambda k: key if k == driver_kid("D-001") else None,
            topic="evc.requests", codec=REQUESTS,
        )  # fmt: skip
        assert kid == "driver:D-001"
        assert isinstance(request, ChargeRequest) and request.driver_id == "D-001"
        assert request.origin == "app"

        received = RequestReceived(request_id=request.request_id, cp_id="CP-01", driver_id="D-001")
        notices, prod = topics.driver_notices, central.producer
        # sealed with another key (another driver's, or a forger's) under our Kafka key
        prod.send_raw(notices, b"D-001", _sealed_notice(received, stranger))
        # unsealed
        prod.send(notices, "D-001", received)
        # sealed with our key but naming another driver
        other = RequestReceived(request_id=request.request_id, cp_id="CP-01", driver_id="D-002")
        prod.send_raw(notices, b"D-001", _sealed_notice(other, key))
        # the genuine one
        prod.send_raw(notices, b"D-001", _sealed_notice(received, key))
        prod.flush(10)
        wait_for(lambda: runtime.notice_keys, 10, "the genuine notice")
        assert runtime.notice_keys == ["D-001"]  # only that one reached the core
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("names driver D-002" in r.getMessage() for r in warnings)
        debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
        assert sum("notice not for D-001" in m for m in debug) == 2
    finally:
        raw.close()


def _driver(args: list[str], secrets: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EVC_SECRETS": str(secrets), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "driver_app.main", "--kafka", "127.0.0.1:1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )


@pytest.mark.process
@pytest.mark.parametrize("ui", [["--no-gui"], []], ids=["console", "gui"])
def test_no_start_without_the_key(tmp_path: Path, ui: list[str]) -> None:
    # a development broker's role file, so that only the driver key is missing
    (tmp_path / "kafka-driver.properties").write_text("security.protocol=PLAINTEXT\n")
    result = _driver(["--driver-id", "D-001", *ui], tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("EV_Driver")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "no key for driver D-001" in errors[0]
    assert f"evc-admin driver key D-001 --key-file {tmp_path / 'driver-D-001.key'}" in errors[0]


@pytest.mark.process
def test_a_bad_key_file_is_one_line_too(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    (tmp_path / "kafka-driver.properties").write_text("security.protocol=PLAINTEXT\n")
    result = _driver(["--driver-id", "D-001", "--no-gui", "--driver-key", str(bad)], tmp_path)
    assert result.returncode == 2
    assert "no key for driver D-001" in result.stderr and "Traceback" not in result.stderr


def test_key_file_default_and_format(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EVC_SECRETS", str(tmp_path))
    assert default_key_file("D-9") == tmp_path / "driver-D-9.key"
    text = new_key()
    (tmp_path / "driver-D-9.key").write_text(f"# issued for D-9\n{text}\n")
    assert load_driver_key(default_key_file("D-9"), "D-9") == key_bytes(text)
