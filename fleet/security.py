"""How secure a fleet run is: the three layers of docs/security.md that ``evc-fleet`` measures.

* the broker (layer 1): SASL_SSL with SCRAM users and role ACLs, started by
  ``scripts/kafka-local start --secrets <run dir>/secrets``, or PLAINTEXT (``--plain``);
  ``KafkaAccess`` gives each of the fleet's processes the role file it authenticates with
  (Central ``central``, the engines' simulation ``engine``, the drivers' ``driver``, the
  run's topics and ACLs ``admin``);
* TLS on the monitor link (layer 4) and sealed Kafka values (layers 2 and 3): ``Security``,
  which also says how Central is started for that mode.

``evc-fleet`` runs all three by default (issue 20); ``--plain`` none; ``--plain`` with
``--tls``, ``--sealed`` or ``--sasl`` adds that layer back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from fleet.commands import default_central_command
from fleet.errors import FleetError
from wire.errors import WireError
from wire.kafka.security import KafkaSecurity

# Central's command line ties its layers together: without ``--insecure`` TLS and sealing
# with ``--kafka-credentials``; with it none (and a PLAINTEXT broker). To measure other
# combinations the fleet runs ``central_app.main`` through this wrapper, which sets
# ``CentralConfig.seal_kafka`` (the switch Central's own tests use) and, for a plain TCP
# Central on a SASL_SSL broker, its ``kafka_security`` from the role file it names.
CENTRAL_WRAPPER = """\
import dataclasses, os, sys
import central_app.main as central
from wire.kafka.security import load_security
_seal = os.environ["EVC_FLEET_SEAL_KAFKA"] == "1"
_role = os.environ.get("EVC_FLEET_KAFKA_ROLE_FILE")
_config_from = central.config_from
def _config(args):
    config = dataclasses.replace(_config_from(args), seal_kafka=_seal)
    if _role:
        config = dataclasses.replace(config, kafka_security=load_security(_role))
    return config
central.config_from = _config
sys.argv[0] = "EV_Central"
sys.exit(central.main())
"""

PLAINTEXT_ROLE = "kafka-fleet-plaintext.properties"


@dataclass(frozen=True)
class KafkaAccess:
    """The broker's security as the fleet's clients see it: PLAINTEXT (``secrets`` None), or
    SASL_SSL with the role files ``kafka-<role>.properties`` of the secrets directory that
    ``scripts/kafka-local`` created the broker's users from. Plain paths, so it travels to
    the spawned Kafka simulation as it is."""

    secrets: Path | None = None

    @property
    def sasl(self) -> bool:
        return self.secrets is not None

    @property
    def label(self) -> str:
        return "SASL_SSL" if self.sasl else "PLAINTEXT"

    def role_file(self, role: str) -> Path:
        """The file a program of ``role`` passes as ``--kafka-credentials``; a PLAINTEXT
        broker's is one saying ``security.protocol=PLAINTEXT`` (written here once)."""
        if self.secrets is not None:
            return self.secrets / f"kafka-{role}.properties"
        raise FleetError("a PLAINTEXT broker has no role files")

    def security(self, role: str) -> KafkaSecurity | None:
        """What ``role``'s clients merge into their configuration; None: PLAINTEXT."""
        if self.secrets is None:
            return None
        try:
            return KafkaSecurity.from_file(self.role_file(role))
        except WireError as exc:
            raise FleetError(str(exc)) from exc

    def grant(self, bootstrap: str, prefix: str) -> None:
        """The role ACLs of a run's topic prefix (``scripts/kafka-local`` grants only ``""``)."""
        if self.secrets is None:
            return
        from wire.kafka.acls import grant

        try:
            grant(bootstrap, prefix, self.security("admin"))
        except WireError as exc:
            raise FleetError(f"cannot grant the ACLs of the topics {prefix}evc.*: {exc}") from exc


@dataclass(frozen=True)
class Security:
    """How Central runs: TLS on the monitor link (certificate, key, the monitors' CA),
    whether it seals Kafka values, and the role file it gives the broker. Without TLS Central
    gets ``--insecure``."""

    tls: bool = False
    sealed: bool = False
    sasl: bool = False  # the broker is SASL_SSL (``kafka_credentials`` is the central role)
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    kafka_credentials: Path | None = None  # Central's role file (PLAINTEXT or SASL_SSL)

    @property
    def label(self) -> str:
        """What ran, for the tables: ``TLS+sealed+SASL_SSL`` … ``plain``."""
        return mode_label(self.tls, self.sealed, self.sasl)

    def central_args(self) -> list[str]:
        if not self.tls:
            return ["--insecure"]
        assert self.cert and self.key and self.kafka_credentials
        return [
            "--tls-cert",
            str(self.cert),
            "--tls-key",
            str(self.key),
            "--kafka-credentials",
            str(self.kafka_credentials),
        ]

    def command(self, command: list[str]) -> tuple[list[str], dict[str, str]]:
        """Central's command for this mode, and extra environment."""
        if (self.tls and self.sealed) or not (self.tls or self.sealed or self.sasl):
            return command, {}  # Central's own modes: secure, or --insecure
        if command != default_central_command():
            raise FleetError(
                f"{self.label} needs the default Central command (it sets Central's "
                "configuration through a wrapper); with --central-cmd run the secured default "
                "(TLS, sealed), or --plain alone"
            )
        env = {"EVC_FLEET_SEAL_KAFKA": "1" if self.sealed else "0"}
        if self.sasl and not self.tls:
            assert self.kafka_credentials is not None
            env["EVC_FLEET_KAFKA_ROLE_FILE"] = str(self.kafka_credentials)
        return [sys.executable, "-c", CENTRAL_WRAPPER], env


def mode_label(tls: bool, sealed: bool, sasl: bool) -> str:
    parts = [name for name, on in (("TLS", tls), ("sealed", sealed), ("SASL_SSL", sasl)) if on]
    return "+".join(parts) or "plain"


def make_security(tls: bool, sealed: bool, kafka: KafkaAccess, secrets_dir: Path) -> Security:
    """Central's security: the secrets of the run (``wire.pki.Secrets(secrets_dir).init()``:
    the CA and Central's certificate for 127.0.0.1; the broker's own directory when it has
    one, so the run is one network with one CA) and Central's Kafka role file."""
    if kafka.secrets is not None:
        secrets_dir = kafka.secrets
    if not tls:
        role = kafka.role_file("central") if kafka.sasl else None
        return Security(tls=False, sealed=sealed, sasl=kafka.sasl, kafka_credentials=role)
    from wire.pki import PkiError, Secrets

    secrets = Secrets(secrets_dir)
    try:
        secrets.init()
    except PkiError as exc:
        raise FleetError(str(exc)) from exc
    if kafka.sasl:
        credentials = kafka.role_file("central")
    else:
        credentials = secrets_dir / PLAINTEXT_ROLE
        credentials.write_text(
            "# the fleet's broker: no TLS, no SASL\nsecurity.protocol=PLAINTEXT\n"
        )
    return Security(
        tls=True,
        sealed=sealed,
        sasl=kafka.sasl,
        cert=secrets.cert("central"),
        key=secrets.key("central"),
        ca=secrets.ca_cert,
        kafka_credentials=credentials,
    )
