"""The demo network's metrics ports and, with ``make run RUN_ARGS=--observe``, a Prometheus
server scraping them (docs/operations.md). Used by ``scripts/run_network.py``.

Every long-running program of ``make run`` gets ``--metrics-port`` (``metrics_ports``, from
``--metrics-port-base``, 9400 by default): the Centrals 9400 and 9401, EV_OCPP 9409, the
engine and the monitor of the i-th CP 9410 + 2i and 9411 + 2i, on 127.0.0.1; clear of
Prometheus (9090), its node exporter (9100) and the brokers (9092-9094). A ``Network`` built
by another script (chaos) has no base and no metrics ports, so parallel runs never collide.
``start_prometheus`` runs Debian's ``prometheus`` (the package of that name) on 127.0.0.1:9090
(base - 310) with ``resources/prometheus.yml``'s jobs pointed at those ports; its data and log
stay in the run folder. Without the package it says so and the network runs on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "resources" / "prometheus.yml"
DASHBOARD = ROOT / "resources" / "grafana" / "evcharging.json"
BASE = 9400
OCPP = 9  # the offsets from the base
CPS = 10
PROMETHEUS = -310  # 9090 for the base 9400
JOBS = {"central": "evc-central", "engine": "evc-engine", "monitor": "evc-monitor"}


def metrics_ports(base: int, centrals: list[str], cp_ids: list[str], ocpp: bool) -> dict[str, int]:
    """Program name (as ``run_network`` spawns it) -> its metrics port; none for base 0."""
    if not base:
        return {}
    ports = {name: base + i for i, name in enumerate(centrals)}
    for i, cp_id in enumerate(cp_ids):
        ports[f"engine-{cp_id}"] = base + CPS + 2 * i
        ports[f"monitor-{cp_id}"] = base + CPS + 2 * i + 1
    if ocpp:
        ports["ocpp-gateway"] = base + OCPP
    return ports


def job_of(name: str) -> str:
    if name == "ocpp-gateway":
        return "evc-ocpp"
    return JOBS[name.split("-", 1)[0]]


def targets(ports: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Prometheus file_sd target groups per job: one group per program, labelled with its
    name (``program``: central, engine-CP-01, …)."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for name, port in sorted(ports.items(), key=lambda item: item[1]):
        jobs.setdefault(job_of(name), []).append(
            {"targets": [f"127.0.0.1:{port}"], "labels": {"program": name}}
        )
    return jobs


def write_config(folder: Path, ports: dict[str, int]) -> Path:
    """``resources/prometheus.yml`` with its target files (``targets/<job>.json``, read by
    Prometheus relative to the config) written for this run's ports."""
    (folder / "targets").mkdir(parents=True, exist_ok=True)
    for job, groups in targets(ports).items():
        (folder / "targets" / f"{job}.json").write_text(json.dumps(groups, indent=2) + "\n")
    for job in ("evc-central", "evc-engine", "evc-monitor", "evc-ocpp"):
        path = folder / "targets" / f"{job}.json"
        if not path.exists():
            path.write_text("[]\n")  # a job without programs in this run (no OCPP chargers)
    config = folder / "prometheus.yml"
    shutil.copyfile(CONFIG, config)
    return config


def start_prometheus(
    run_dir: Path, base: int, ports: dict[str, int], log: Path
) -> subprocess.Popen | None:
    """Debian's Prometheus against this run (None, said, when it is not installed)."""
    if not ports:
        print("run: --observe needs the metrics ports (--metrics-port-base 0 turned them off)")
        return None
    binary = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if binary is None:
        print(
            "run: --observe: Prometheus is not installed (Debian: sudo apt-get install "
            "prometheus); the programs' metrics are served all the same: "
            + ", ".join(f"{n} :{p}" for n, p in sorted(ports.items(), key=lambda i: i[1])),
            flush=True,
        )
        return None
    folder = run_dir / "prometheus"
    config = write_config(folder, ports)
    address = f"127.0.0.1:{base + PROMETHEUS}"
    handle = log.open("ab")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={address}",
            "--storage.tsdb.retention.time=2d",
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=folder,
        start_new_session=True,
    )
    print(
        f"run: Prometheus on http://{address} (config {config}, log {log}); "
        f"Grafana dashboard: {DASHBOARD}",
        flush=True,
    )
    return process


def say_ports(base: int, ports: dict[str, int]) -> None:
    if not ports:
        return
    central = ", ".join(f"{n} :{p}" for n, p in ports.items() if n.startswith("central"))
    print(
        f"run: metrics and probes on 127.0.0.1 (/metrics, /healthz, /readyz): {central}; "
        f"CPs from :{base + CPS} (engine, monitor in turn)"
        + (f"; EV_OCPP :{base + OCPP}" if "ocpp-gateway" in ports else ""),
        flush=True,
    )
