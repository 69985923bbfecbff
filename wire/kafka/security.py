"""How a program authenticates to Kafka: SASL/SCRAM over TLS, from a role file.

``KafkaSecurity.from_file`` reads one role file of the secrets directory
(``kafka-<role>.properties``, see ``wire.pki``) and gives the librdkafka settings every client
of the program merges (``client_config``). ``None`` in place of a ``KafkaSecurity`` means
PLAINTEXT (``--insecure``). ``explain`` turns librdkafka's authentication and authorization
errors into the one line a user needs, so that a wrong password or a missing ACL is said
once, in words, instead of as a reconnect loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError

from wire.errors import KafkaCredentialsError

_REQUIRED = ("security.protocol", "sasl.mechanism", "sasl.username", "sasl.password")


@dataclass(frozen=True)
class KafkaSecurity:
    """SASL credentials and the CA that signs the broker's certificate."""

    username: str
    password: str = field(repr=False)
    ca_location: str | None = None
    protocol: str = "SASL_SSL"
    mechanism: str = "SCRAM-SHA-512"
    source: Path | None = None

    @classmethod
    def from_file(cls, path: Path | str) -> KafkaSecurity:
        from wire.pki import PkiError, read_properties

        path = Path(path)
        try:
            props = read_properties(path)
        except PkiError as exc:
            raise KafkaCredentialsError(f"Kafka credentials: {exc}") from exc
        missing = [key for key in _REQUIRED if not props.get(key)]
        if missing:
            raise KafkaCredentialsError(f"Kafka credentials file {path} lacks {', '.join(missing)}")
        ca = props.get("ssl.ca.location") or None
        if ca is not None and not Path(ca).is_file():
            raise KafkaCredentialsError(
                f"Kafka credentials file {path} names the CA {ca}, which does not exist"
            )
        return cls(
            username=props["sasl.username"],
            password=props["sasl.password"],
            ca_location=ca,
            protocol=props["security.protocol"],
            mechanism=props["sasl.mechanism"],
            source=path,
        )

    def client_config(self) -> dict[str, str]:
        """librdkafka settings to merge into a client's configuration."""
        config = {
            "security.protocol": self.protocol,
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }
        if self.ca_location:
            config["ssl.ca.location"] = self.ca_location
        return config


def load_security(path: Path | str) -> KafkaSecurity | None:
    """The role file at ``path``; ``None`` if it says ``security.protocol=PLAINTEXT`` (a
    development broker: the file then needs nothing else)."""
    from wire.pki import PkiError, read_properties

    try:
        props = read_properties(Path(path))
    except PkiError as exc:
        raise KafkaCredentialsError(f"Kafka credentials: {exc}") from exc
    if props.get("security.protocol", "").upper() == "PLAINTEXT":
        return None
    return KafkaSecurity.from_file(path)


def with_security(config: dict[str, Any], security: KafkaSecurity | None) -> dict[str, Any]:
    """``config`` plus the security settings (a new dict; PLAINTEXT when ``security`` is None)."""
    if security is None:
        return dict(config)
    return {**config, **security.client_config()}


_AUTHENTICATION = {
    RdKafkaError._AUTHENTICATION,
    RdKafkaError.SASL_AUTHENTICATION_FAILED,
    RdKafkaError.ILLEGAL_SASL_STATE,
    RdKafkaError.UNSUPPORTED_SASL_MECHANISM,
}
_SSL = {RdKafkaError._SSL}
_AUTHORIZATION = {
    RdKafkaError.TOPIC_AUTHORIZATION_FAILED,
    RdKafkaError.GROUP_AUTHORIZATION_FAILED,
    RdKafkaError.CLUSTER_AUTHORIZATION_FAILED,
    RdKafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


class AuthProblems:
    """One client's authentication/authorization refusals: each said once, in words, on
    ``log`` at ERROR; the last one kept in ``last`` for the program's own display."""

    def __init__(self, security: KafkaSecurity | None, log: logging.Logger) -> None:
        self._security = security
        self._log = log
        self._said: set[str] = set()
        self.last: str | None = None

    def report(self, err: RdKafkaError, what: str | None = None) -> bool:
        """True if ``err`` was such a refusal (then said, once)."""
        line = explain(err, security=self._security, what=what)
        if line is None:
            return False
        self.last = line
        if line not in self._said:
            self._said.add(line)
            self._log.error("%s", line)
        return True


def is_auth_error(err: RdKafkaError) -> bool:
    return err.code() in _AUTHENTICATION | _SSL | _AUTHORIZATION


def explain(
    err: RdKafkaError, *, security: KafkaSecurity | None, what: str | None = None
) -> str | None:
    """One clear line for an authentication/authorization/TLS error; None for any other.

    ``what`` names the operation refused (e.g. ``"write evc.cp.commands"``)."""
    code = err.code()
    text = err.str()
    if code in _AUTHENTICATION:
        who = f" for user {security.username!r}" if security is not None else ""
        return (
            f"Kafka refused our credentials{who} (SASL authentication failed): "
            "check --kafka-credentials"
        )
    if code in _SSL:
        return (
            f"TLS with the Kafka broker failed ({text}): check that ssl.ca.location in "
            "--kafka-credentials is the network's ca.pem and that the broker's certificate "
            "names the host in --kafka"
        )
    if code in _AUTHORIZATION:
        who = security.username if security is not None else "ANONYMOUS"
        doing = (
            {
                RdKafkaError.GROUP_AUTHORIZATION_FAILED: "use its consumer group",
                RdKafkaError.CLUSTER_AUTHORIZATION_FAILED: "do this on the cluster",
            }.get(code)
            or what
            or "use this topic"
        )
        return f"Kafka: the {who!r} role is not authorized to {doing} ({text})"
    if security is None and "security.protocol" in text:
        # librdkafka's hint when a plaintext client meets a TLS listener
        return (
            "the Kafka broker wants TLS and credentials: pass --kafka-credentials FILE "
            "(not --insecure)"
        )
    return None
