"""``CentralConfig``: what one ``EV_Central`` runs with (from its command line, or a test),
and ``StartError``, the one error that says Central cannot start."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from central_app.energy_check import DEFAULT_RATED_KW
from central_app.leadership import pair_capable
from central_app.pricing import DEFAULT_PRICE
from central_app.state_log import DEFAULT_STATE_HISTORY_DAYS
from central_app.store import DEFAULT_SEED
from wire.kafka.security import KafkaSecurity


class StartError(Exception):
    """Central cannot start (message is for users): port in use, bad database, ..."""


def default_central_id(port: int) -> str:
    """``central@HOST:PORT``: the two Centrals of a pair on one host differ by their port
    (by the process id when the port is chosen by the system, port 0)."""
    return f"central@{socket.gethostname()}:{port or f'pid{os.getpid()}'}"


@dataclass
class CentralConfig:
    port: int
    kafka: str
    db_url: str
    host: str = "0.0.0.0"
    topic_prefix: str = ""
    seed: Path | None = DEFAULT_SEED
    default_price: float = DEFAULT_PRICE
    # kW of a CP whose record has no rated power: no energy beyond it is billed
    rated_kw: float = DEFAULT_RATED_KW
    heartbeat_timeout: float = 3.0
    authorization_ttl: float = 30.0
    ticket_grace: float = 15.0
    stall_timeout: float = 5.0
    idle_timeout: float = 10.0
    # "" (the default): default_central_id(port), one per process even for a pair on one host
    central_id: str = ""
    # TLS on the monitor link (docs/security.md, layer 4): both files, or insecure=True.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    # Sealed Kafka values (docs/security.md, layers 2 and 3); None: sealed unless insecure.
    # (Tests set it to seal over a plaintext broker and TCP link.)
    seal_kafka: bool | None = None
    # Kafka SASL_SSL credentials (docs/security.md, layer 1); None: PLAINTEXT (--insecure).
    kafka_security: KafkaSecurity | None = None
    # Active/standby pair (central_app.leadership); None: whenever the database can decide
    # leadership (PostgreSQL, MariaDB/MySQL), so two Centrals on one database never both serve.
    pair: bool | None = None
    # s between two reconciliations of the books (central_app.reconcile)
    reconcile_every: float = 300.0
    # Days of cp_state_changes kept (central_app.state_log, "Retention"); 0: all of them.
    state_history_days: float = DEFAULT_STATE_HISTORY_DAYS
    # One-time enrollment tokens for REGISTER (docs/security.md); None: unless insecure.
    require_enrollment: bool | None = None

    def __post_init__(self) -> None:
        if not self.central_id:
            self.central_id = default_central_id(self.port)

    @property
    def enrollment(self) -> bool:
        return not self.insecure if self.require_enrollment is None else self.require_enrollment

    @property
    def paired(self) -> bool:
        return pair_capable(self.db_url) if self.pair is None else self.pair

    @property
    def sealed(self) -> bool:
        return not self.insecure if self.seal_kafka is None else self.seal_kafka
