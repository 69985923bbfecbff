"""librdkafka's own reports, routed through our logging and quiet by default.

librdkafka says every failed reconnect ("Connect to ipv4#… failed", "1/1 brokers are down"),
several a second while a broker is down, in its own words. Each program already says that
Kafka is unreachable once, in words of its own (Central's ``[kafka]`` line, the engine's
panel, the driver's "Cannot reach CENTRAL (Kafka broker unreachable)"), so those reports go
to DEBUG: ``--log-level DEBUG`` shows them, the default console does not mix them in. Other
errors are logged at WARNING (ERROR when fatal), each at most once per ``RepeatFilter``
period. librdkafka's own log lines (the clients' ``logger``) go to DEBUG too:
``LibrdkafkaLog``.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError as RdKafkaError

#: librdkafka error codes that only mean "no broker reachable right now"
BROKER_DOWN = frozenset(
    {RdKafkaError._ALL_BROKERS_DOWN, RdKafkaError._TRANSPORT, RdKafkaError._RESOLVE}
)


class LibrdkafkaLog:
    """The ``logger`` of every client's config: librdkafka's own log lines (its syslog level
    and words) at DEBUG under ``wire.kafka.librdkafka.<kind>``, whatever logging setup the
    program made — so they never reach a console at the default level."""

    def __init__(self, kind: str) -> None:
        self._log = logging.getLogger(f"wire.kafka.librdkafka.{kind}")

    def log(self, level: int, msg: str, *args: object) -> None:  # called by confluent-kafka
        self._log.debug(msg, *args)


class RepeatFilter:
    """``allow(key)`` is True the first time, then at most once per ``every`` seconds."""

    def __init__(self, every: float = 30.0) -> None:
        self._every = every
        self._last: dict[object, float] = {}

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        self._last[key] = now
        return True


def log_client_error(
    log: logging.Logger, who: str, err: RdKafkaError, repeats: RepeatFilter | None = None
) -> None:
    """Log one ``error_cb`` report of a client (``who``: "kafka producer", …)."""
    if err.code() in BROKER_DOWN and not err.fatal():
        log.debug("%s: %s", who, err.str())
        return
    if repeats is not None and not err.fatal() and not repeats.allow(err.code()):
        return  # the same trouble again within a short while: said already
    log.log(logging.ERROR if err.fatal() else logging.WARNING, "%s: %s", who, err.str())
