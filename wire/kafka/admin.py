"""Topic creation and verification at start-up, and a cheap "is the broker there?" probe.

``ensure_topics`` is idempotent: it creates what is missing (``evc.network.state`` with
``cleanup.policy=compact``), tolerates another process creating the same topics at the same
time, and verifies partition counts, because a topic with a different count would break the
key -> partition mapping every engine and driver computes on its own.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from wire.errors import BrokerUnavailable, KafkaAuthError, TopicSetupError
from wire.kafka.quiet import LibrdkafkaLog
from wire.kafka.security import KafkaSecurity, explain, with_security
from wire.kafka.topics import Topics, TopicSpec

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("admin")


class _Problems:
    """What the AdminClient's error callback saw. Its own object, not a bound method of
    ``_Admin``: a client whose callback points back at its holder is a reference cycle, kept
    (with the client's threads, sockets and wakeup pipes) until the cyclic collector runs —
    never, for what a Central had frozen with ``gc.freeze`` (found by evc-chaos)."""

    def __init__(self, security: KafkaSecurity | None) -> None:
        self.security = security
        self.last: str | None = None

    def __call__(self, err: RdKafkaError) -> None:
        self.last = explain(err, security=self.security) or self.last


class _Admin:
    """An AdminClient that remembers the authentication/TLS trouble its error callback saw.
    Dropping it destroys the client at once (no cycle: see ``_Problems``)."""

    def __init__(self, bootstrap: str, security: KafkaSecurity | None) -> None:
        self.security = security
        self._problems = _Problems(security)
        self.client = AdminClient(
            with_security(
                {
                    "bootstrap.servers": bootstrap,
                    "log.connection.close": False,
                    "reconnect.backoff.max.ms": 1000,
                    "logger": rdlog,
                    "error_cb": self._problems,
                },
                security,
            )
        )

    @property
    def problem(self) -> str | None:
        return self._problems.last

    def refused(self, exc: KafkaException, what: str) -> KafkaAuthError | None:
        """A ``KafkaAuthError`` if ``exc`` (or the error callback) was an auth refusal."""
        self.client.poll(0)  # serve the error callback
        err = exc.args[0] if exc.args else None
        line = (
            explain(err, security=self.security, what=what)
            if isinstance(err, RdKafkaError)
            else None
        )
        line = line or self.problem
        return KafkaAuthError(line) if line else None


def _admin(bootstrap: str, security: KafkaSecurity | None = None) -> _Admin:
    return _Admin(bootstrap, security)


def _partition_counts(admin: _Admin, timeout: float) -> dict[str, int]:
    try:
        metadata = admin.client.list_topics(timeout=max(timeout, 0.1))
    except KafkaException as exc:
        refused = admin.refused(exc, "read the topic list")
        if refused is not None:
            raise refused from exc
        raise BrokerUnavailable(f"no Kafka broker answered within {timeout:.1f}s: {exc}") from exc
    return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}


def ensure_topics(
    bootstrap: str,
    topics: Topics,
    *,
    timeout: float = 15.0,
    security: KafkaSecurity | None = None,
) -> None:
    """Create the missing topics of ``topics`` and verify them all; raises TopicSetupError
    (wrong shape, creation refused), KafkaAuthError (credentials or ACLs refused) or
    BrokerUnavailable (nobody answered in ``timeout``)."""
    deadline = time.monotonic() + timeout
    admin = _admin(bootstrap, security)
    specs = topics.specs()
    while True:
        existing = _partition_counts(admin, max(deadline - time.monotonic(), 0.5))
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            break
        try:
            _create(admin, missing, deadline)
            break
        except BrokerUnavailable:
            # A broker that is still starting, or several programs creating the same topics
            # at once, time out a creation now and then: retry while the deadline allows.
            if time.monotonic() + 0.5 > deadline:
                raise
            time.sleep(0.5)
    # Metadata of fresh topics reaches the broker's cache a moment after creation.
    while True:
        counts = _partition_counts(admin, max(deadline - time.monotonic(), 0.5))
        absent = [spec.name for spec in specs if spec.name not in counts]
        if not absent:
            break
        if time.monotonic() > deadline:
            raise TopicSetupError(f"topics still missing after {timeout:.1f}s: {absent}")
        time.sleep(0.05)
    wrong = [
        f"{spec.name} has {counts[spec.name]} partitions, expected {spec.partitions}"
        for spec in specs
        if counts[spec.name] != spec.partitions
    ]
    if wrong:
        raise TopicSetupError("; ".join(wrong))
    _verify_compaction(admin, [s.name for s in specs if s.compacted], deadline)


REPLICAS = 3  # on a cluster of three or more brokers
MIN_INSYNC = 2  # acks=all: a write is acknowledged once two replicas have it


def replication_for(brokers: int) -> tuple[int, dict[str, str]]:
    """(replication factor, topic config) for a cluster of ``brokers``: on three or more,
    every partition on three brokers and ``min.insync.replicas=2``, so losing one broker
    loses no acknowledged event and stops no writer; on fewer, the broker's defaults
    (-1: ``default.replication.factor``)."""
    if brokers >= REPLICAS:
        return REPLICAS, {"min.insync.replicas": str(MIN_INSYNC)}
    return -1, {}


def _create(admin: _Admin, missing: list[TopicSpec], deadline: float) -> None:
    try:
        brokers = len(
            admin.client.list_topics(timeout=max(deadline - time.monotonic(), 1.0)).brokers
        )
    except KafkaException as exc:
        raise BrokerUnavailable(f"no Kafka broker answered: {exc}") from exc
    factor, replicated = replication_for(brokers)
    new = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=factor,
            config={**replicated, **({"cleanup.policy": "compact"} if spec.compacted else {})},
        )
        for spec in missing
    ]
    futures = admin.client.create_topics(new, request_timeout=max(deadline - time.monotonic(), 1.0))
    for name, future in futures.items():
        try:
            future.result()
            log.info("created topic %s", name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, RdKafkaError) and err.code() == RdKafkaError.TOPIC_ALREADY_EXISTS:
                continue  # someone else created it meanwhile: fine, verified afterwards
            if isinstance(err, RdKafkaError) and err.code() in (
                RdKafkaError._TRANSPORT,
                RdKafkaError._TIMED_OUT,
                RdKafkaError._ALL_BROKERS_DOWN,
            ):
                raise BrokerUnavailable(f"creating topic {name}: {exc}") from exc
            refused = admin.refused(exc, f"create {name}")
            if refused is not None:
                raise refused from exc
            raise TopicSetupError(f"cannot create topic {name}: {exc}") from exc


def _verify_compaction(admin: _Admin, names: list[str], deadline: float) -> None:
    for name in names:
        policy = _topic_config(admin, name, deadline).get("cleanup.policy", "")
        if "compact" not in (policy or ""):
            raise TopicSetupError(f"{name} must be compacted but has cleanup.policy={policy!r}")


def _topic_config(admin: _Admin, name: str, deadline: float) -> dict[str, str]:
    """A topic's configuration. On a cluster a fresh topic can be in one broker's metadata
    and not yet in the one asked (UNKNOWN_TOPIC_OR_PART): asked again until ``deadline``."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    while True:
        future = admin.client.describe_configs(
            [resource], request_timeout=max(deadline - time.monotonic(), 1.0)
        )[resource]
        try:
            return {key: entry.value for key, entry in future.result().items()}
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            unknown = (
                isinstance(err, RdKafkaError) and err.code() == RdKafkaError.UNKNOWN_TOPIC_OR_PART
            )
            if unknown and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            refused = admin.refused(exc, f"describe the configuration of {name}")
            if refused is not None:
                raise refused from exc
            raise TopicSetupError(f"cannot read the config of {name}: {exc}") from exc


def topic_config(
    bootstrap: str, topic: str, *, timeout: float = 10.0, security: KafkaSecurity | None = None
) -> dict[str, str]:
    """The effective configuration of one topic (for diagnostics and tests)."""
    return _topic_config(_admin(bootstrap, security), topic, time.monotonic() + timeout)


def broker_reachable(
    bootstrap: str, *, timeout: float = 2.0, security: KafkaSecurity | None = None
) -> bool:
    """True if a broker answers a metadata request within ``timeout`` s; never raises."""
    try:
        _partition_counts(_admin(bootstrap, security), timeout)
    except (BrokerUnavailable, KafkaAuthError):
        return False
    return True
