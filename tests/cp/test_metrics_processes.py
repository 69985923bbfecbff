"""``--metrics-port`` of EV_CP_E, EV_CP_M and EV_OCPP as real programs (issue 25,
docs/operations.md): the series exist with their types, the health checks move, the probes
answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.cp.conftest import CpLauncher
from tests.cp.fake_central import FakeCentral
from tests.metrics_scrape import (
    ENGINE_SERIES,
    MONITOR_SERIES,
    OCPP_SERIES,
    check_types,
    get,
    scrape,
    value,
)
from tests.procs import Proc, free_port
from tests.waiting import wait_for
from wire.kafka.topics import Topics

pytestmark = [pytest.mark.kafka, pytest.mark.process]


def test_engine_and_monitor_export_health_checks_and_links(
    launcher: CpLauncher, central: FakeCentral
) -> None:
    port, engine_metrics, monitor_metrics = free_port(), free_port(), free_port()
    launcher.engine(port, "--metrics-port", str(engine_metrics))
    wait_for(lambda: get(engine_metrics, "/healthz")[0] == 200, 20, "the engine's /healthz")
    status, body = get(engine_metrics, "/readyz")
    assert status == 503 and "no HEALTH from a monitor yet" in body, (status, body)
    launcher.monitor("CP-M", port, "--metrics-port", f"127.0.0.1:{monitor_metrics}")

    wait_for(lambda: get(monitor_metrics, "/readyz")[0] == 200, 20, "the monitor ready")
    assert "ready: monitor of CP-M (engine OK)" in get(monitor_metrics, "/readyz")[1]
    wait_for(lambda: get(engine_metrics, "/readyz")[0] == 200, 20, "the engine ready")
    assert get(monitor_metrics, "/healthz") == (200, "ok\n")

    def checks() -> float:
        return value(scrape(engine_metrics), "evc_engine_health_checks_total", result="OK") or 0

    first = wait_for(checks, 10, "a HEALTH check answered")
    wait_for(lambda: checks() >= first + 2, 10, "the engine's checks counter growing")
    engine = scrape(engine_metrics)
    check_types(engine, ENGINE_SERIES)
    assert value(engine, "evc_engine_info", cp_id="CP-M") == 1.0
    assert value(engine, "evc_engine_state", state="IDLE") == 1.0
    assert value(engine, "evc_engine_state", state="ISOLATED") == 0.0
    assert value(engine, "evc_engine_monitor_link_up") == 1.0
    assert value(engine, "evc_engine_kafka_up") == 1.0

    wait_for(
        lambda: (
            (value(scrape(monitor_metrics), "evc_monitor_heartbeat_rtt_seconds_count") or 0) >= 2
        ),
        10,
        "heartbeats' round trips measured",
    )
    monitor = scrape(monitor_metrics)
    check_types(monitor, MONITOR_SERIES)
    assert value(monitor, "evc_monitor_info", cp_id="CP-M") == 1.0
    assert (value(monitor, "evc_monitor_health_checks_total", result="OK") or 0) >= 1
    assert value(monitor, "evc_monitor_engine_health", health="OK") == 1.0
    assert value(monitor, "evc_monitor_central_link_up") == 1.0
    assert value(monitor, "evc_monitor_central_sessions_total") == 1.0

    # Central goes away: the monitor's link is down and it is not ready any more
    central.stop()
    wait_for(
        lambda: value(scrape(monitor_metrics), "evc_monitor_central_link_up") == 0.0,
        20,
        "the link down",
    )
    status, body = get(monitor_metrics, "/readyz")
    assert status == 503 and "not authenticated at Central" in body, (status, body)


def test_ocpp_gateway_exports_chargers_and_calls(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, central: FakeCentral
) -> None:
    port, metrics = free_port(), free_port()
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({}))
    gateway = Proc(
        "ocpp-gateway",
        "ocpp_gateway.main",
        [
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--central",
            f"127.0.0.1:{central.port}",
            "--kafka",
            kafka_bootstrap,
            "--topic-prefix",
            topics.prefix,
            "--passwords",
            str(passwords),
            "--credentials-dir",
            str(tmp_path / "credentials"),
            "--state-dir",
            str(tmp_path / "state"),
            "--enroll-tokens",
            str(tmp_path / "tokens"),
            "--insecure",
            "--metrics-port",
            str(metrics),
        ],
        tmp_path / "logs" / "ocpp-gateway.log",
    )
    try:
        wait_for(lambda: get(metrics, "/readyz")[0] == 200, 30, "EV_OCPP ready")
        assert get(metrics, "/healthz") == (200, "ok\n")
        families = scrape(metrics)
        check_types(families, OCPP_SERIES)
        assert value(families, "evc_ocpp_chargers_connected") == 0.0
        with connect(f"ws://127.0.0.1:{port}/ocpp/OCPP-M", subprotocols=["ocpp1.6"]) as ws:
            ws.send(json.dumps([2, "m-1", "Heartbeat", {}]))
            answer = json.loads(ws.recv(timeout=10))
            assert answer[:2] == [3, "m-1"], answer
            families = scrape(metrics)
            assert value(families, "evc_ocpp_chargers_connected") == 1.0
            assert (
                value(
                    families,
                    "evc_ocpp_calls_total",
                    direction="received",
                    action="Heartbeat",
                    result="ok",
                )
                == 1.0
            )
        wait_for(
            lambda: value(scrape(metrics), "evc_ocpp_chargers_connected") == 0.0,
            10,
            "the charger gone",
        )
    finally:
        gateway.terminate()
        assert "Traceback" not in gateway.output(), gateway.output()
