"""The network's secrets directory: a private CA, TLS certificates, Kafka role credentials.

One directory holds everything a secured network needs (docs/security.md), created once by
``evc-secrets init`` (or by ``scripts/kafka-local`` and ``make run`` on first start) and
never inside the repository: ``$EVC_SECRETS`` or ``~/.config/evcharging/secrets``.

    ca.pem, ca.key                       the private CA (ECDSA P-256, 10 years)
    broker.pem, broker.key               the Kafka broker's certificate and key
    central.pem, central.key             Central's certificate for the monitor link
    web.pem, web.key                     EV_Web's HTTPS certificate (the public status page)
    ocpp.pem, ocpp.key                   EV_OCPP's certificate for the chargers' wss://
    kafka-<role>.properties              role = admin | central | engine | driver | web

A charger's client certificate (OCPP security profile 3, ``evc-admin ocpp cert ID``) is
signed by the same CA with the charge point id as its common name (:func:`make_client`).

Certificates are ECDSA P-256: a TLS handshake costs a fraction of an RSA one, which matters
when 10,000 monitors reconnect after a Central restart. Leaf certificates name ``localhost``,
``127.0.0.1``, this host's name and any ``--host`` given. Every private file is written
atomically with mode 0600; ``init`` keeps whatever already exists, so it is safe to call on
every start.

A role file is a Java-properties-like text file that both Python and Kafka's own tools read:
``security.protocol``, ``sasl.mechanism``, ``sasl.username``, ``sasl.password``,
``ssl.ca.location`` (librdkafka) and ``sasl.jaas.config`` / ``ssl.truststore.*``
(Kafka's command-line tools).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROLES = ("admin", "central", "engine", "driver", "web")
# the TLS server certificates the CA issues: the broker, Central (monitor link), EV_Web
# (HTTPS), EV_OCPP (the chargers' wss://)
LEAVES = ("broker", "central", "web", "ocpp")
SCRAM_MECHANISM = "SCRAM-SHA-512"
CA_DAYS = 3650
LEAF_DAYS = 825


class PkiError(Exception):
    """The secrets directory cannot be used (message is for users)."""


def default_dir() -> Path:
    env = os.environ.get("EVC_SECRETS")
    return Path(env) if env else Path.home() / ".config" / "evcharging" / "secrets"


@contextmanager
def private_draft(path: Path, data: bytes) -> Iterator[str]:
    """``data`` in a file beside ``path``, readable by the owner only (0600) and on disk
    (fsynced), under a temporary name: the caller gives it its name (rename, link), so that
    ``path`` never appears half written. The temporary name is gone when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        yield tmp
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` readable by the owner only (0600)."""
    with private_draft(path, data) as draft:
        os.replace(draft, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # Kafka's PEM key store wants PKCS#8
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EVCharging"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(common_name: str = "EVCharging private CA") -> tuple[bytes, bytes]:
    """A new self-signed CA: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def default_hosts(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    hosts = ["localhost", "127.0.0.1", "::1", socket.gethostname(), *extra]
    return tuple(dict.fromkeys(h for h in hosts if h))


def make_leaf(
    common_name: str, hosts: tuple[str, ...], ca_cert_pem: bytes, ca_key_pem: bytes
) -> tuple[bytes, bytes]:
    """A server certificate signed by the CA for ``hosts`` (names or IPs)."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _issue(common_name, ca_cert_pem, ca_key_pem, usages, names)


def make_client(common_name: str, ca_cert_pem: bytes, ca_key_pem: bytes) -> tuple[bytes, bytes]:
    """A client certificate signed by the CA whose subject's common name is ``common_name``
    (an OCPP charger's: its charge point id), usable for TLS client authentication only."""
    return _issue(common_name, ca_cert_pem, ca_key_pem, [ExtendedKeyUsageOID.CLIENT_AUTH])


def _issue(
    common_name: str,
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    usages: list[x509.ObjectIdentifier],
    names: list[x509.GeneralName] | None = None,
) -> tuple[bytes, bytes]:
    """A new key and its leaf certificate (PEM), signed by the CA: not a CA itself, valid
    for ``usages`` and LEAF_DAYS (from 5 minutes ago: clocks differ), for ``names`` if any."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=LEAF_DAYS))
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def role_properties(role: str, password: str, ca_file: Path) -> str:
    """The client file of one Kafka role (read by ``wire.kafka.security`` and Kafka's tools)."""
    return (
        f"# EVCharging Kafka client credentials for the {role!r} role (keep private)\n"
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        f"sasl.username={role}\n"
        f"sasl.password={password}\n"
        f"ssl.ca.location={ca_file}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{role}" password="{password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={ca_file}\n"
    )


def read_properties(path: Path) -> dict[str, str]:
    """``key=value`` lines; ``#`` comments and blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror or exc}") from exc
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Secrets:
    """Paths of one secrets directory (see the module docstring)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    def cert(self, name: str) -> Path:
        return self.root / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def ocpp_chargers(self) -> Path:
        """Where ``evc-admin ocpp cert ID`` writes ``ID.pem`` and ``ID.key``."""
        return self.root / "ocpp-chargers"

    def kafka_role(self, role: str) -> Path:
        return self.root / f"kafka-{role}.properties"

    def kafka_password(self, role: str) -> str:
        return read_properties(self.kafka_role(role))["sasl.password"]

    def init(self, hosts: tuple[str, ...] = ()) -> list[str]:
        """Create what is missing; returns the names of the files created."""
        created: list[str] = []
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.ca_cert.exists() or not self.ca_key.exists():
                cert, key = make_ca()
                write_private(self.ca_key, key)
                write_private(self.ca_cert, cert)
                created += ["ca.pem", "ca.key"]
            ca_cert, ca_key = self.ca_cert.read_bytes(), self.ca_key.read_bytes()
            for leaf in LEAVES:
                if not self.cert(leaf).exists() or not self.key(leaf).exists():
                    cert, key = make_leaf(leaf, default_hosts(hosts), ca_cert, ca_key)
                    write_private(self.key(leaf), key)
                    write_private(self.cert(leaf), cert)
                    created += [f"{leaf}.pem", f"{leaf}.key"]
            for role in ROLES:
                if not self.kafka_role(role).exists():
                    password = secrets.token_urlsafe(24)
                    write_private(
                        self.kafka_role(role),
                        role_properties(role, password, self.ca_cert).encode(),
                    )
                    created.append(self.kafka_role(role).name)
        except OSError as exc:
            raise PkiError(f"cannot set up the secrets directory {self.root}: {exc}") from exc
        return created
