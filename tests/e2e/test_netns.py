"""Across hosts: Central + Kafka, a CP and a driver in three network namespaces.

The namespaces (``tests/e2e/netns.py``) are joined only by veth links, so a program that
assumed ``localhost`` for a peer would find nothing there. The broker listens on and
advertises the central host's address; Central listens on it; the CP's engine binds its
HEALTH socket to the CP host's address and its monitor reaches it there; the driver reaches
the broker through the central host. One driver runs a 2-request services file on the CP's
autopilot; the test checks the driver's console (two tickets), Central's database (two
ticketed sessions with energy) and that every address handed to a program is a namespace
address. Needs root (CAP_NET_ADMIN); skipped otherwise. Everything started here is stopped
and the namespaces are deleted by finalizers, also on failure.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.netns import ThreeHosts, can_create_namespaces
from tests.waiting import wait_for
from wire.pki import Secrets

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"

KAFKA_PORT = 9092
CENTRAL_PORT = 7070
ENGINE_PORT = 5600
CP_ID = "CP-01"
DRIVER_ID = "D-001"

_OK, _WHY = can_create_namespaces()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _OK, reason=f"across-hosts test skipped: {_WHY}"),
    pytest.mark.timeout(150),
]


@dataclass
class Proc:
    name: str
    argv: list[str]
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "EVC_TOPIC_PREFIX", "EVC_KAFKA")
    }
    env.update(PYTHONUNBUFFERED="1", QT_QPA_PLATFORM="offscreen")
    return env


class Launcher:
    """Starts programs inside a host; remembers them so the finalizer can stop them."""

    def __init__(self, hosts: ThreeHosts, logs: Path) -> None:
        self.hosts = hosts
        self.logs = logs
        self.procs: list[Proc] = []
        self.program_args: list[list[str]] = []  # what each program was told (for the check)

    def start(self, name: str, role: str, argv: list[str]) -> Proc:
        self.program_args.append(argv)
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*self.hosts.prefix(role), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.logs,
                env=_env(),
                start_new_session=True,
            )
        proc = Proc(name, argv, process, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for proc in self.procs:
            try:
                proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.process.pid, signal.SIGKILL)
                proc.process.wait()

    def wait_exit(self, proc: Proc, timeout: float, what: str) -> str:
        """Wait for ``proc`` to end; its output (the test fails with every log if not)."""
        try:
            proc.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what} within {timeout:.0f} s\n{self.outputs()}")
        return proc.output()

    def outputs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-3000:]}" for p in self.procs)


def _ticketed(db: Path) -> list[tuple[str, str, float, float, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2) as conn:
            return conn.execute(
                "SELECT driver_id, cp_id, kwh, eur, reason FROM sessions "
                "WHERE status = 'ticketed' ORDER BY ticketed_at"
            ).fetchall()
    except sqlite3.Error:
        return []


def test_supply_across_three_hosts(tmp_path: Path) -> None:
    hosts = ThreeHosts()
    kafka_run = tmp_path / "kafka"
    launcher = Launcher(hosts, tmp_path)
    try:
        hosts.create()
        central_ip = hosts.central_cps_ip  # the broker's and Central's address
        kafka = f"{central_ip}:{KAFKA_PORT}"
        # TLS on the monitor link across hosts: Central's certificate names its address
        secrets = Secrets(tmp_path / "secrets")
        secrets.init((central_ip,))
        broker_cmd = [
            sys.executable,
            str(KAFKA_LOCAL),
            "start",
            "--host",
            central_ip,
            "--advertise",
            central_ip,
            "--port",
            str(KAFKA_PORT),
            "--run-dir",
            str(kafka_run),
            "--insecure",  # (the programs reach it through EVC_KAFKA_CREDENTIALS: PLAINTEXT)
        ]
        launcher.program_args.append(broker_cmd)
        started = subprocess.run(
            [*hosts.prefix("central"), *broker_cmd],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert started.returncode == 0, f"broker: {started.stdout}{started.stderr}"

        central = launcher.start(
            "central",
            "central",
            [
                str(BIN / "EV_Central"),
                "--host",
                central_ip,
                "--port",
                str(CENTRAL_PORT),
                "--kafka",
                kafka,
                "--data-dir",
                str(tmp_path / "central"),
                "--no-gui",
                "--rated-kw",
                "1000",  # its engine runs at --speed 20: 440 kW
                "--status-every",
                "0.5",
                "--tls-cert",
                str(secrets.cert("central")),
                "--tls-key",
                str(secrets.key("central")),
            ],
        )
        launcher.start(
            "engine",
            "cps",
            [
                str(BIN / "EV_CP_E"),
                "--kafka",
                kafka,
                "--bind",
                hosts.cps_ip,
                "--port",
                str(ENGINE_PORT),
                "--autopilot",
                "--plug-delay",
                "0.5",
                "--unplug-after",
                "2",
                "--speed",
                "20",
                "--journal-dir",
                str(tmp_path / "journal"),
                "--no-gui",
                "--curve-dir",
                str(tmp_path / "curve"),
            ],
        )
        # the operator admits the CP (a secured Central registers none without its one-time
        # token) and the token file travels to the CP host with the CA
        wait_for(lambda: "status:" in central.output(), timeout=30, what="Central running")
        token_file = tmp_path / "cp-host" / f"{CP_ID}.token"
        subprocess.run(
            [
                str(BIN / "evc-admin"),
                "--data-dir",
                str(tmp_path / "central"),
                "cp",
                "enroll",
                CP_ID,
                "--token-file",
                str(token_file),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        launcher.start(
            "monitor",
            "cps",
            [
                str(BIN / "EV_CP_M"),
                "--engine",
                f"{hosts.cps_ip}:{ENGINE_PORT}",
                "--central",
                f"{central_ip}:{CENTRAL_PORT}",
                "--cp-id",
                CP_ID,
                "--credentials-dir",
                str(tmp_path / "credentials"),
                "--central-ca",
                str(secrets.ca_cert),
                "--curve-dir",
                str(tmp_path / "curve"),
                "--enroll-token",
                f"@{token_file}",
            ],
        )

        def central_sees_cp_active() -> bool:
            lines = [ln for ln in central.output().splitlines() if ln.startswith("status:")]
            return bool(lines) and "ACTIVE 1," in lines[-1] and "Kafka up" in lines[-1]

        wait_for(central_sees_cp_active, timeout=30, what="Central to see CP-01 ACTIVE")

        services = tmp_path / "services.txt"
        services.write_text(f"# two supplies at the far host's CP\n{CP_ID}\n{CP_ID}\n")
        # the operator hands the driver its key (Central seeded it with one)
        key_file = tmp_path / "driver.key"
        subprocess.run(
            [
                str(BIN / "evc-admin"),
                "--data-dir",
                str(tmp_path / "central"),
                "driver",
                "key",
                DRIVER_ID,
                "--current",
                "--key-file",
                str(key_file),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        driver = launcher.start(
            "driver",
            "drivers",
            [
                str(BIN / "EV_Driver"),
                "--kafka",
                kafka,
                "--driver-id",
                DRIVER_ID,
                "--services",
                str(services),
                "--pause",
                "1",
                "--data-dir",
                str(tmp_path / "driver"),
                "--driver-key",
                str(key_file),
                "--no-gui",
            ],
        )
        out = launcher.wait_exit(driver, 45, "the driver did not finish its file")
        assert driver.process.returncode == 0, launcher.outputs()
        finished = [ln for ln in out.splitlines() if f"{CP_ID} finished, ticket" in ln]
        assert len(finished) == 2, f"expected two tickets in the driver's output\n{out}"
        assert "ran all 2 entries" in out and "2 finished" in out, out

        db = tmp_path / "central" / "evcentral.db"
        rows = wait_for(
            lambda: (r := _ticketed(db)) and len(r) >= 2 and r,
            timeout=10,
            what="two ticketed sessions in Central's database",
        )
        assert len(rows) == 2, rows
        for driver_id, cp_id, kwh, eur, _reason in rows:
            assert (driver_id, cp_id) == (DRIVER_ID, CP_ID)
            assert kwh > 0 and eur > 0, rows

        # Nothing assumed localhost: every address any program was given is a namespace
        # address, and the broker advertises the central host's address.
        namespace_ips = {hosts.central_cps_ip, hosts.central_drivers_ip, hosts.cps_ip}
        namespace_ips.add(hosts.drivers_ip)
        given = " ".join(" ".join(argv) for argv in launcher.program_args)
        assert "localhost" not in given
        addresses = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", given))
        assert addresses and addresses <= namespace_ips, addresses
        props = (kafka_run / "server.properties").read_text()
        assert f"advertised.listeners=PLAINTEXT://{kafka}" in props
        assert f"listeners=PLAINTEXT://{kafka}," in props
        # and the programs did connect across the links
        monitor_out = launcher.procs[2].output()
        assert f"Connected to CENTRAL at {central_ip}:{CENTRAL_PORT}" in monitor_out, monitor_out
    finally:
        launcher.stop_all()
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "stop", "--run-dir", str(kafka_run)],
            capture_output=True,
            timeout=60,
        )
        hosts.destroy()
