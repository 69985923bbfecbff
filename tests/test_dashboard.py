"""``resources/grafana/evcharging.json`` and ``resources/prometheus.yml`` (docs/operations.md):
valid dashboard JSON whose queries name only series the programs export, and a scrape
configuration with the jobs ``scripts/observe.py`` writes targets for."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.metrics_scrape import ALL_SERIES

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "resources" / "grafana" / "evcharging.json"
SUFFIXES = ("_bucket", "_count", "_sum")


def exported_names() -> set[str]:
    names = set(ALL_SERIES)
    for name, kind in ALL_SERIES.items():
        if kind == "histogram":
            names.update(name + suffix for suffix in SUFFIXES)
    return names


def panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_the_dashboard_is_valid_and_queries_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "evcharging" and dashboard["title"] == "EVCharging"
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    known, used = exported_names(), set()
    for panel in panels(dashboard):
        assert {"type", "title", "gridPos"} <= set(panel), panel.get("title")
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            used.update(re.findall(r"\b(?:evc|process)_[a-z_]+", expr))
    assert used - known == set(), f"queries name series nobody exports: {used - known}"
    wanted = {
        "evc_central_heartbeats_total",
        "evc_central_heartbeat_handling_seconds_bucket",
        "evc_central_authorization_seconds_bucket",
        "evc_central_billed_energy_kwh_total",
        "evc_central_billed_eur_total",
        "evc_central_cps",
        "evc_ocpp_calls_total",
        "evc_monitor_health_checks_total",
    }
    assert wanted <= used


def test_the_scrape_config_has_the_jobs_make_run_fills_in(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from observe import metrics_ports, write_config

    assert metrics_ports(0, ["central"], ["CP-01"], ocpp=False) == {}  # a chaos run's Network
    ports = metrics_ports(9400, ["central-a", "central-b"], ["CP-01", "CP-02"], ocpp=True)
    assert len(set(ports.values())) == len(ports)
    assert ports["central-a"] == 9400 and ports["ocpp-gateway"] == 9409
    config = write_config(tmp_path, ports)
    jobs = re.findall(r"job_name: (\S+)", config.read_text())
    assert jobs == ["evc-central", "evc-engine", "evc-monitor", "evc-ocpp"]
    files = re.findall(r'files: \["([^"]+)"\]', config.read_text())
    groups = {f: json.loads((tmp_path / f).read_text()) for f in files}
    central = groups["targets/evc-central.json"]
    assert [g["labels"]["program"] for g in central] == ["central-a", "central-b"]
    assert groups["targets/evc-monitor.json"][1]["targets"] == [
        f"127.0.0.1:{ports['monitor-CP-02']}"
    ]
