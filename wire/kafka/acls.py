"""The Kafka ACLs of each role (docs/security.md, layer 1), granted per topic prefix.

``role_acls(prefix)`` is the table as data; ``grant(bootstrap, prefix, security)`` creates it
on the broker with ``AdminClient.create_acls`` as the ``admin`` super user. Kafka keeps each
binding once, so granting again is harmless: ``scripts/kafka-local`` grants prefix ``""`` on
every start and test fixtures grant their own prefix.

Resources, per prefix ``P`` (topics are ``P`` + ``evc.*``, see ``wire.kafka.topics``):

- every role may Describe and DescribeConfigs every ``Pevc.`` topic (PREFIXED), so that
  ``ensure_topics`` can verify partition counts and compaction without creating anything,
  and has ``IdempotentWrite`` on the cluster (idempotent producers);
- writes and reads are granted per topic name (LITERAL);
- groups: Central ``Pcentral`` (LITERAL) and ``Pcentral-view-`` (PREFIXED: the tails of a
  standby's read-only window, ``central_app.standby_feed``); engines ``Pengine-`` and drivers ``Pdriver-``
  (PREFIXED: ``Pengine-<cp_id>``, ``Pdriver-<driver_id>`` and the driver's tails
  ``Pdriver-<driver_id>-tail-…``). Engines assign their partition but commit their offsets
  under their group, so they need it too.
- Central also Creates and Alters ``Pevc.`` topics (``ensure_topics``).
- ``web`` (EV_Web, the public status page) is read-only: Read and Describe on
  ``Pevc.network.state`` alone (LITERAL), and its tail's group ``Pweb-`` (PREFIXED, nothing
  is ever committed there). It may not describe, read or write any other topic, and has no
  IdempotentWrite: the page can show nothing but what Central publishes for everyone.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from wire.errors import BrokerUnavailable, KafkaAuthError, KafkaError
from wire.kafka.quiet import LibrdkafkaLog
from wire.kafka.security import KafkaSecurity, explain, with_security
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("admin")

ROLES = ("central", "engine", "driver", "web")
CLUSTER = "kafka-cluster"

_Rule = tuple[ResourceType, str, ResourcePatternType, AclOperation]


def role_rules(role: str, prefix: str = "") -> list[_Rule]:
    """What ``role`` may do on the topics and groups of ``prefix``."""
    t = Topics(prefix)
    every_topic = prefix + "evc."
    lit, pre = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    if role == "web":  # read-only, one topic (no prefix-wide Describe, no IdempotentWrite)
        return [
            (topic, t.network_state, lit, AclOperation.DESCRIBE),
            (topic, t.network_state, lit, AclOperation.READ),
            (group, prefix + "web-", pre, AclOperation.READ),
        ]
    rules: list[_Rule] = [
        (topic, every_topic, pre, AclOperation.DESCRIBE),
        (topic, every_topic, pre, AclOperation.DESCRIBE_CONFIGS),
        (ResourceType.BROKER, CLUSTER, lit, AclOperation.IDEMPOTENT_WRITE),
    ]
    if role == "central":
        for op in (
            AclOperation.READ,
            AclOperation.WRITE,
            AclOperation.CREATE,
            AclOperation.ALTER,
        ):
            rules.append((topic, every_topic, pre, op))
        rules.append((group, prefix + "central", lit, AclOperation.READ))
        # a standby's window reads two topics with TopicTail, whose group commits nothing
        rules.append((group, prefix + "central-view-", pre, AclOperation.READ))
    elif role == "engine":
        for name in (t.cp_events, t.requests, t.dead_letter):
            rules.append((topic, name, lit, AclOperation.WRITE))
        rules.append((topic, t.cp_commands, lit, AclOperation.READ))
        rules.append((group, prefix + "engine-", pre, AclOperation.READ))
    elif role == "driver":
        for name in (t.requests, t.dead_letter):
            rules.append((topic, name, lit, AclOperation.WRITE))
        for name in (t.driver_notices, t.network_state, t.central_status):
            rules.append((topic, name, lit, AclOperation.READ))
        rules.append((group, prefix + "driver-", pre, AclOperation.READ))
    else:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    return rules


def role_acls(prefix: str = "", roles: tuple[str, ...] = ROLES) -> list[AclBinding]:
    """The ALLOW bindings of ``roles`` for ``prefix`` (principal ``User:<role>``, any host)."""
    return [
        AclBinding(rtype, name, pattern, f"User:{role}", "*", op, AclPermissionType.ALLOW)
        for role in roles
        for rtype, name, pattern, op in role_rules(role, prefix)
    ]


def grant(
    bootstrap: str,
    prefix: str,
    security: KafkaSecurity | None,
    *,
    roles: tuple[str, ...] = ROLES,
    timeout: float = 30.0,
) -> int:
    """Create the role ACLs of ``prefix`` (idempotent); returns how many bindings were asked.

    ``security`` must be a super user's (``kafka-admin.properties``). Raises
    ``KafkaAuthError`` (refused), ``BrokerUnavailable`` (no answer) or ``KafkaError``."""
    problems: list[str] = []

    def on_error(err: object) -> None:
        line = explain(err, security=security)  # type: ignore[arg-type]
        if line:
            problems.append(line)

    admin = AdminClient(
        with_security(
            {
                "bootstrap.servers": bootstrap,
                "log.connection.close": False,
                "reconnect.backoff.max.ms": 1000,
                "logger": rdlog,
                "error_cb": on_error,
            },
            security,
        )
    )
    bindings = role_acls(prefix, roles)
    try:
        futures = admin.create_acls(bindings, request_timeout=timeout)
    except KafkaException as exc:
        raise KafkaError(f"cannot ask for ACLs: {exc}") from exc
    for binding, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            line = explain(err, security=security, what="create ACLs") if err else None
            line = line or (problems[-1] if problems else None)
            if line:
                raise KafkaAuthError(line) from exc
            raise BrokerUnavailable(f"creating ACL {binding}: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerUnavailable(f"no answer creating ACLs within {timeout:.0f}s") from exc
    log.info("granted %d ACLs for prefix %r", len(bindings), prefix)
    return len(bindings)
