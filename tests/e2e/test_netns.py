"""Across hosts: Central + Kafka, a CP and a driver in three network namespaces.

The namespaces (``tests/e2e/netns.py``) are joined only by veth links, so a program that
assumed ``localhost`` for a peer would find nothing there. The broker listens on and
advertises the central host's address; Central listens on it; the CP's engine binds its
HEALTH socket to the CP host's address and its monitor reaches it there; the driver reaches
the broker through the central host. One driver runs a 2-request services file on the CP's
autopilot; the test checks the driver's console (two tickets), Central's database (two
ticketed sessions with energy) and that every address handed to a program is a namespace
address. The commands are docs/deploy.md's "Option 1": a secured broker (SASL_SSL) and
Central (TLS), each host with its own secrets directory holding only the files the guide
copies there (B: ``ca.pem``, ``kafka-engine.properties``; C: ``ca.pem``,
``kafka-driver.properties`` and the driver's key), so a step missing from the guide fails
here. Needs root (CAP_NET_ADMIN); skipped otherwise. Everything started here is stopped
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


_DROPPED = ("DISPLAY", "WAYLAND_DISPLAY", "EVC_TOPIC_PREFIX", "EVC_KAFKA", "EVC_KAFKA_CREDENTIALS")


def _env(secrets: Path) -> dict[str, str]:
    """A host's environment: its own secrets directory, where the guide puts the files."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(PYTHONUNBUFFERED="1", QT_QPA_PLATFORM="offscreen", EVC_SECRETS=str(secrets))
    return env


def _copy_to_host(files: list[Path], secrets: Path) -> None:
    """What the guide's ``install -d -m 700 …; scp …; sed -i "s#^ssl.ca.location=…#"`` does."""
    secrets.mkdir(parents=True, mode=0o700, exist_ok=True)
    for source in files:
        target = secrets / source.name
        text = source.read_text()
        if source.suffix == ".properties":
            text = re.sub(
                r"(?m)^ssl\.ca\.location=.*$", f"ssl.ca.location={secrets / 'ca.pem'}", text
            )
        target.write_text(text)
        target.chmod(0o600)


class _HostDirs(dict):
    """host role -> its secrets directory, made up on first use."""

    def __init__(self, logs: Path) -> None:
        super().__init__()
        self.logs = logs

    def __missing__(self, role: str) -> Path:
        path = self[role] = self.logs / f"host-{role}" / "secrets"
        return path


class Launcher:
    """Starts programs inside a host; remembers them so the finalizer can stop them."""

    def __init__(self, hosts: ThreeHosts, logs: Path) -> None:
        self.hosts = hosts
        self.logs = logs
        # machine A, B and C of docs/deploy.md (and any other host a test names): each its
        # own secrets directory
        self.secrets = _HostDirs(logs)
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
                env=_env(self.secrets[role]),
                start_new_session=True,
            )
        proc = Proc(name, argv, process, log)
        self.procs.append(proc)
        return proc

    def run(self, role: str, argv: list[str]) -> str:
        """A one-shot command on a host (an operator's step); its output."""
        self.program_args.append(argv)
        done = subprocess.run(
            [*self.hosts.prefix(role), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(self.secrets[role]),
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
        return done.stdout

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
        central_ip = hosts.central_cps_ip  # the broker's and Central's address (192.0.2.10)
        kafka = f"{central_ip}:{KAFKA_PORT}"
        secrets_a = launcher.secrets["central"]
        # Machine A, step 1: the secured broker; its first start creates A's secrets
        # directory (CA, broker certificate, one Kafka role file per role), users and ACLs
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
        ]
        launcher.program_args.append(broker_cmd)
        started = subprocess.run(
            [*hosts.prefix("central"), *broker_cmd],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(secrets_a),
        )
        assert started.returncode == 0, f"broker: {started.stdout}{started.stderr}"
        # step 2: Central's certificate for the address the monitors dial
        launcher.run("central", [str(BIN / "evc-secrets"), "init", "--host", central_ip])
        # step 3: Central (TLS and the Kafka role file from A's secrets directory)
        central = launcher.start(
            "central",
            "central",
            [
                str(BIN / "EV_Central"),
                "--port",
                str(CENTRAL_PORT),
                "--kafka",
                kafka,
                # the test's own: one interface of A, its data, console, fast status lines
                "--host",
                central_ip,
                "--data-dir",
                str(tmp_path / "central"),
                "--no-gui",
                "--rated-kw",
                "1000",  # its engine runs at --speed 20: 440 kW
                "--status-every",
                "0.5",
            ],
        )
        wait_for(lambda: "status:" in central.output(), timeout=40, what="Central running")
        admin = [str(BIN / "evc-admin"), "--data-dir", str(tmp_path / "central")]
        # Admitting the CPs of B: a one-time enrollment token, copied to B
        token_file = tmp_path / "host-cps" / "enroll" / f"{CP_ID}.token"
        launcher.run("central", [*admin, "cp", "enroll", CP_ID, "--token-file", str(token_file)])
        # The drivers' keys: exported on A, copied to C's secrets directory
        key_file = tmp_path / "host-central" / "driver-keys" / f"driver-{DRIVER_ID}.key"
        launcher.run(
            "central",
            [*admin, "driver", "key", DRIVER_ID, "--current", "--key-file", str(key_file)],
        )
        # Kafka credentials for B and C: only what their programs need
        _copy_to_host(
            [secrets_a / "ca.pem", secrets_a / "kafka-engine.properties"], launcher.secrets["cps"]
        )
        _copy_to_host(
            [secrets_a / "ca.pem", secrets_a / "kafka-driver.properties", key_file],
            launcher.secrets["drivers"],
        )

        # Machine B: the engine (HEALTH on B's address: its monitor dials it there) and the
        # monitor, both with B's secrets directory (CURVE keys, ca.pem)
        launcher.start(
            "engine",
            "cps",
            [
                str(BIN / "EV_CP_E"),
                "--kafka",
                kafka,
                "--port",
                str(ENGINE_PORT),
                "--bind",
                hosts.cps_ip,
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
            ],
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
                "--enroll-token",
                f"@{token_file}",
                "--credentials-dir",
                str(tmp_path / "credentials"),
            ],
        )

        def central_sees_cp_active() -> bool:
            lines = [ln for ln in central.output().splitlines() if ln.startswith("status:")]
            return bool(lines) and "ACTIVE 1," in lines[-1] and "Kafka up" in lines[-1]

        wait_for(central_sees_cp_active, timeout=30, what="Central to see CP-01 ACTIVE")

        # Machine C: the driver with C's secrets directory only (no --driver-key: the guide
        # puts driver-D-001.key where EV_Driver looks by default)
        services = tmp_path / "services.txt"
        services.write_text(f"# two supplies at the far host's CP\n{CP_ID}\n{CP_ID}\n")
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
        assert re.search(rf"(?m)^advertised\.listeners=SASL_SSL://{re.escape(kafka)}$", props)
        # and nothing of A's secrets beyond the guide's files reached B and C
        assert sorted(p.name for p in launcher.secrets["drivers"].iterdir()) == [
            "ca.pem",
            f"driver-{DRIVER_ID}.key",
            "kafka-driver.properties",
        ]
        # and the programs did connect across the links
        monitor_out = launcher.procs[2].output()
        assert f"Connected to CENTRAL at {central_ip}:{CENTRAL_PORT}" in monitor_out, monitor_out
    finally:
        launcher.stop_all()
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "stop", "--run-dir", str(kafka_run)],
            capture_output=True,
            env=_env(launcher.secrets["central"]),
            timeout=60,
        )
        hosts.destroy()
