"""A broker for the run: the one given with ``--kafka``, or ``scripts/kafka-local`` on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from fleet.central import FleetError
from wire.kafka.admin import broker_reachable

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    def __init__(self, given: str | None, run_dir: Path) -> None:
        self.given = given
        self.run_dir = run_dir / "kafka"
        self.bootstrap = given or ""
        self.started = False

    def start(self) -> str:
        if self.given:
            if not broker_reachable(self.given, timeout=5.0):
                raise FleetError(f"no Kafka broker answers at {self.given}")
            return self.given
        if not KAFKA_LOCAL.exists():
            raise FleetError(f"{KAFKA_LOCAL} not found: pass --kafka HOST:PORT")
        port = free_port()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        where = ["--port", str(port), "--run-dir", str(self.run_dir)]
        result = subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "start", *where, "--insecure"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise FleetError(f"scripts/kafka-local start failed:\n{result.stdout}{result.stderr}")
        self.started = True
        self.bootstrap = f"127.0.0.1:{port}"
        return self.bootstrap

    @property
    def pid(self) -> int | None:
        try:
            return int((self.run_dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                [sys.executable, str(KAFKA_LOCAL), "stop", "--run-dir", str(self.run_dir)],
                capture_output=True,
            )
            self.started = False
