"""The broker's SCRAM users of the roles: the ones a newer version added, created on start.

``scripts/kafka-local`` creates every role's user when it formats a broker's storage
(``wire.pki.ROLES``). A broker formatted by an older version lacks the roles added since (the
read-only ``web`` role of EV_Web), so ``kafka-local start`` calls ``ensure_users``: it asks
the broker which users exist (``describe_user_scram_credentials``) and upserts only the
missing ones with the password of their role file. Existing users are never touched, so a
password changed by hand stays changed.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from wire.errors import BrokerUnavailable, KafkaError
from wire.kafka.quiet import LibrdkafkaLog
from wire.kafka.security import KafkaSecurity, with_security

__all__ = ["ensure_users"]

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("admin")

ITERATIONS = 4096  # what kafka-storage's --add-scram uses by default for SCRAM-SHA-512
_NOT_FOUND = "RESOURCE_NOT_FOUND"


def ensure_users(
    bootstrap: str,
    security: KafkaSecurity | None,
    passwords: dict[str, str],
    *,
    timeout: float = 30.0,
) -> list[str]:
    """Create the users of ``passwords`` (user → password) that the broker lacks; returns
    their names. ``security`` must be a super user's. Raises ``BrokerUnavailable`` (no
    answer) or ``KafkaError``."""
    admin = AdminClient(
        with_security(
            {"bootstrap.servers": bootstrap, "log.connection.close": False, "logger": rdlog},
            security,
        )
    )
    missing: list[str] = []
    try:
        futures = admin.describe_user_scram_credentials(list(passwords), request_timeout=timeout)
        for user, future in futures.items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if err is None or _NOT_FOUND not in str(err.name()):
                    raise
                missing.append(user)
        if not missing:
            return []
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
        upserts = [UserScramCredentialUpsertion(u, info, passwords[u].encode()) for u in missing]
        for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
            future.result(timeout=timeout)
    except KafkaException as exc:
        raise KafkaError(f"cannot check the broker's SCRAM users: {exc}") from exc
    except TimeoutError as exc:
        raise BrokerUnavailable(f"no answer about SCRAM users within {timeout:.0f}s") from exc
    log.info("created SCRAM users %s", ", ".join(missing))
    return missing
