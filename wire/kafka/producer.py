"""``EventProducer``: the one way EVCharging writes events to Kafka.

After confluent-kafka-python's ``examples/producer.py``: idempotence (which implies
``acks=all`` and ordered retries), ``poll(0)`` after each produce so delivery callbacks run,
a delivery callback that logs failures, ``BufferError`` handled, ``flush()`` on close.

Broker outages: ``message.timeout.ms`` defaults to 0 (= no local timeout), so an event
produced while the broker is down stays queued and is delivered, in order and exactly once
per producer session, when the broker comes back. Nothing in PROTOCOL.md tolerates silent
loss (a ``supply_ended`` lost during a broker restart would lose a ticket), and stale events
are the consumer's business (Central denies ``charge_request`` older than 10 s). The local
queue is bounded (``queue.buffering.max.messages``), so a long outage ends in
``BrokerUnavailable`` from ``send`` rather than in unbounded memory. Writes that a reachable
cluster does not acknowledge (two brokers of three down) are said by ``WriteStall``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException, Producer

from wire.errors import BrokerUnavailable, KafkaError
from wire.kafka.messages import Event
from wire.kafka.quiet import LibrdkafkaLog, RepeatFilter, log_client_error
from wire.kafka.security import AuthProblems, KafkaSecurity, with_security
from wire.kafka.stall import WriteStall

STARTUP_GRACE_S = 5.0

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("producer")


class EventProducer:
    """An idempotent producer of ``Event`` values keyed by an id (PROTOCOL.md §3)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "evc",
        message_timeout_ms: int = 0,
        max_queued: int = 100_000,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._auth = AuthProblems(security, log)
        self._broker_up = True
        self._failures = 0
        self._repeats = RepeatFilter()
        self._stall = WriteStall()
        self._closed = False
        # close() against produce/poll on other threads: librdkafka's handle must not be
        # used once destroyed (uncontended, ~0.1 µs a send)
        self._lock = threading.RLock()
        # Until this moment a broker that is not UP yet is still being connected to, not down:
        # without the grace a fresh program would flash "Kafka down" at every start.
        self._connect_grace_until = time.monotonic() + STARTUP_GRACE_S
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,  # implies acks=all, max.in.flight<=5, ordered retries
            "acks": "all",
            "partitioner": "consistent_random",  # CRC-32 of the key, as partition_for
            "message.timeout.ms": message_timeout_ms,  # 0 = keep retrying until delivered
            "queue.buffering.max.messages": max_queued,
            # Every hop of a request/reply waits up to linger.ms before its batch leaves:
            # 5 ms (the default) cost ~10 ms per round trip. 0 sends at once but makes a
            # request per event under load; 1 ms keeps some batching (a busy producer still
            # batches what queues while earlier requests are in flight) for ~2 ms per trip.
            "linger.ms": 1,
            "reconnect.backoff.max.ms": 1000,
            "statistics.interval.ms": 1000,
            "log.connection.close": False,
            "error_cb": self._on_error,
            "stats_cb": self._on_stats,
            "logger": rdlog,
        }
        try:
            self._producer = Producer(with_security(config, security))
        except KafkaException as exc:
            raise KafkaError(f"cannot create a Kafka producer: {exc}") from exc

    # --- callbacks (run inside poll/flush, on the calling thread) --------------------------

    def _on_error(self, err: RdKafkaError) -> None:
        if self._auth.report(err):
            return
        if err.code() == RdKafkaError._ALL_BROKERS_DOWN:
            self._broker_up = False
        log_client_error(log, "kafka producer", err, self._repeats)

    def _on_stats(self, stats_json: str) -> None:
        try:
            brokers = json.loads(stats_json).get("brokers", {})
        except ValueError:
            return
        if not brokers:
            return
        up = any(b.get("state") == "UP" for b in brokers.values())
        if up or time.monotonic() > self._connect_grace_until:
            self._broker_up = up
        # the cluster's brokers (nodeid >= 0; the bootstrap entries are -1) and those answering
        cluster = [b for b in brokers.values() if isinstance(b, dict) and b.get("nodeid", -1) >= 0]
        answering = sum(b.get("state") == "UP" for b in cluster)
        now = time.monotonic()
        if not up:  # unreachable: "Kafka down", said as such; not a stall
            self._stall.unreachable(now)
        elif said := self._stall.check(
            now, len(self._producer), answering or 1, max(len(cluster), 1)
        ):
            log.warning(said)

    def _on_delivery(self, err: RdKafkaError | None, msg: Any) -> None:
        if err is not None:
            if err.code() in (RdKafkaError._PURGE_QUEUE, RdKafkaError._PURGE_INFLIGHT):
                return  # dropped by close(), which said how many
            self._failures += 1
            if self._auth.report(err, f"write {msg.topic()}"):
                return
            log.error(
                "kafka delivery failed: topic=%s key=%r error=%s", msg.topic(), msg.key(), err.str()
            )
        else:
            self._broker_up = True
            if said := self._stall.delivered(time.monotonic(), len(self._producer)):
                log.warning(said)

    def _delivered_then(self, then: Callable[[], None], err: RdKafkaError | None, msg: Any) -> None:
        self._on_delivery(err, msg)
        if err is None:
            try:
                then()
            except Exception:
                log.exception("a delivery hook failed")

    # --- API ----------------------------------------------------------------------------------

    def send(self, topic: str, key: str | None, event: Event) -> None:
        """Queue ``event`` under ``key``; returns at once (delivery happens in the background).

        ``key`` may be None only for re-publishing keyless input (the dead-letter copy).
        Raises ``BrokerUnavailable`` if the local queue stays full (a long broker outage).
        """
        self.send_raw(topic, None if key is None else key.encode("utf-8"), event.to_json())

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        """``send`` for an already-encoded key and value. ``on_delivered`` is called once the
        brokers acknowledged this event (from whichever thread polls the producer)."""
        callback = (
            self._on_delivery
            if on_delivered is None
            else functools.partial(self._delivered_then, on_delivered)
        )
        with self._lock:
            if self._closed:
                raise KafkaError(f"cannot produce to {topic}: the producer is closed")
            for attempt in range(2):
                try:
                    self._producer.produce(topic, value=value, key=key, on_delivery=callback)
                    break
                except BufferError as exc:
                    if attempt == 1:
                        raise BrokerUnavailable(
                            f"kafka producer queue full ({len(self._producer)} events "
                            "waiting); is the broker down?"
                        ) from exc
                    self._producer.poll(0.5)  # let deliveries drain a little, then retry once
                except KafkaException as exc:
                    raise KafkaError(f"cannot produce to {topic}: {exc}") from exc
            self._producer.poll(0)
        self._stall.queued(time.monotonic())

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery, error and statistics callbacks (send/flush also do)."""
        with self._lock:
            if not self._closed:
                self._producer.poll(timeout)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait up to ``timeout`` s for queued events; returns how many are still queued."""
        return 0 if self._closed else self._producer.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` s); what is left is logged and lost.
        Then the client is closed: its threads, broker sockets and wakeup pipes go now, not
        whenever the object is collected (a Central that changes role in one process builds
        new clients each time; found by evc-chaos). Safe to call twice."""
        if self._closed:
            return
        try:
            left = self._producer.flush(timeout)
        except (KafkaException, RuntimeError) as exc:
            log.warning("kafka producer flush: %s", exc)
            left = len(self._producer)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if left:
                    log.warning("kafka producer closed with %d undelivered events", left)
                    self._producer.purge()  # else close() would wait for them without end
                self._producer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("kafka producer close: %s", exc)

    @property
    def pending(self) -> int:
        return len(self._producer)

    @property
    def failures(self) -> int:
        """Deliveries that failed for good (only possible with a finite message timeout)."""
        return self._failures

    @property
    def auth_problem(self) -> str | None:
        """The last authentication/authorization refusal, in words (None: none seen)."""
        return self._auth.last

    @property
    def broker_up(self) -> bool:
        return self._broker_up

    @property
    def stalled(self) -> bool:
        """Events wait and none was acknowledged for ``stall.STALL_S`` (see ``WriteStall``)."""
        return self._stall.stalled
