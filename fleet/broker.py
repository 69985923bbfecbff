"""A broker for the run: the one given with ``--kafka``, or ``scripts/kafka-local`` on a free port.

Secured (the default): ``scripts/kafka-local start --secrets <run dir>/secrets`` — SASL_SSL,
the SCRAM users of that fresh directory's role files, ACLs — and ``access`` hands the fleet's
processes those role files. ``sasl=False`` (``--plain``): ``--insecure``, PLAINTEXT. A broker
given with ``--kafka`` is SASL_SSL with the role files of ``--kafka-secrets`` (the secrets
directory it was started with), else PLAINTEXT."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from fleet.errors import FleetError
from fleet.security import KafkaAccess
from wire.kafka.admin import broker_reachable

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    def __init__(
        self,
        given: str | None,
        run_dir: Path,
        *,
        sasl: bool = True,
        given_secrets: Path | None = None,
    ) -> None:
        self.given = given
        self.run_dir = run_dir / "kafka"
        self.bootstrap = given or ""
        self.started = False
        if given:
            secrets = given_secrets.resolve() if given_secrets else None
        else:
            secrets = (run_dir / "secrets").resolve() if sasl else None
        self.access = KafkaAccess(secrets)

    def start(self) -> str:
        if self.given:
            self._check_given()
            return self.given
        if not KAFKA_LOCAL.exists():
            raise FleetError(f"{KAFKA_LOCAL} not found: pass --kafka HOST:PORT")
        port = free_port()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        where = ["--port", str(port), "--run-dir", str(self.run_dir)]
        if self.access.secrets is not None:
            mode = ["--secrets", str(self.access.secrets)]  # created by kafka-local
        else:
            mode = ["--insecure"]
        result = subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "start", *where, *mode],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise FleetError(f"scripts/kafka-local start failed:\n{result.stdout}{result.stderr}")
        self.started = True
        self.bootstrap = f"127.0.0.1:{port}"
        return self.bootstrap

    def _check_given(self) -> None:
        """The given broker answers in the mode of the run, or one line says what it needs."""
        assert self.given
        secrets = self.access.secrets
        if secrets is not None and not self.access.role_file("admin").is_file():
            raise FleetError(
                f"--kafka-secrets {secrets} holds no kafka-admin.properties: give the secrets "
                "directory the broker was started with (scripts/kafka-local start --secrets DIR)"
            )
        security = self.access.security("admin")
        if broker_reachable(self.given, timeout=5.0, security=security):
            return
        if security is None:
            raise FleetError(
                f"no PLAINTEXT Kafka broker answers at {self.given}; for a SASL_SSL broker "
                "drop --plain (or add --sasl) and give --kafka-secrets DIR"
            )
        if broker_reachable(self.given, timeout=5.0):
            raise FleetError(
                f"the Kafka broker at {self.given} is PLAINTEXT: the secured default needs a "
                "SASL_SSL broker (scripts/kafka-local start --secrets DIR, then --kafka-secrets "
                "DIR). To measure against this one pass --plain (--plain --tls --sealed keeps "
                "TLS on the monitor link and sealed values)"
            )
        raise FleetError(
            f"no SASL_SSL Kafka broker answers at {self.given} as the admin of {secrets}"
        )

    @property
    def label(self) -> str:
        return self.access.label

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
