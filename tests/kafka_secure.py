"""A secured broker for tests (docs/security.md, layer 1): SASL_SSL, SCRAM users, ACLs.

``SecureKafka`` is what the session fixture ``secure_kafka`` yields: the broker's address,
its secrets directory, each role's ``KafkaSecurity`` and role file, and ``topics()`` for a
fresh per-test prefix whose ACLs are granted (``wire.kafka.acls``) and topics created as
Central would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from wire.kafka.acls import grant
from wire.kafka.admin import ensure_topics
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.pki import Secrets


@dataclass(frozen=True)
class SecureKafka:
    bootstrap: str
    secrets: Secrets
    run_dir: Path
    port: int

    def role_file(self, role: str) -> Path:
        return self.secrets.kafka_role(role)

    def security(self, role: str) -> KafkaSecurity:
        return KafkaSecurity.from_file(self.role_file(role))

    def credentials_args(self, role: str) -> list[str]:
        """What a program of ``role`` gets on its command line."""
        return ["--kafka-credentials", str(self.role_file(role))]

    def grant(self, prefix: str) -> None:
        grant(self.bootstrap, prefix, self.security("admin"))

    def topics(self, *, create: bool = True) -> Topics:
        """A fresh prefix with its role ACLs granted and (``create``) its topics created."""
        topics = Topics(prefix=f"s{uuid.uuid4().hex[:8]}.")
        self.grant(topics.prefix)
        if create:
            ensure_topics(self.bootstrap, topics, security=self.security("central"))
        return topics
