"""``TopicTail``: read every partition of a topic, without a consumer group's commits.

Views of the whole network use it: the driver rebuilds its network view from the compacted
``evc.network.state`` on every launch (from the beginning), and follows ``central_alive``
from the end. Neither needs, or
should leave behind, committed offsets, and ``EventConsumer`` is group-based (subscribe or
one key's partition). This adapter assigns all partitions explicitly (no group join, no
rebalance), with auto-commit off.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError

from wire.errors import InvalidEvent, KafkaError
from wire.kafka.messages import CENTRAL_STATUS, NETWORK_STATE, Event, EventCodec
from wire.kafka.quiet import LibrdkafkaLog, RepeatFilter, log_client_error
from wire.kafka.security import AuthProblems, KafkaSecurity, with_security
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("tail")


class TopicTail:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        partitions: int,
        codec: EventCodec,
        *,
        from_beginning: bool,
        client_id: str = "evc-driver",
        security: KafkaSecurity | None = None,
        watch_broker: bool = False,
    ) -> None:
        """``watch_broker``: keep ``broker_up`` current (librdkafka's statistics every second
        say whether a broker answers; EV_Web's page tells its readers when it does not)."""
        self._topic = topic
        self._codec = codec
        self._eof: set[int] = set()
        self._partitions = partitions
        self._auth = AuthProblems(security, log)
        self._repeats = RepeatFilter()
        self._broker_up = True
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            # librdkafka wants a group id even for manual assignment; nothing is committed.
            "group.id": f"{client_id}-tail-{uuid.uuid4().hex[:8]}",
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "reconnect.backoff.max.ms": 1000,
            "log.connection.close": False,
            "logger": rdlog,
            "error_cb": self._on_error,
        }
        if watch_broker:
            config["statistics.interval.ms"] = 1000
            config["stats_cb"] = self._on_stats
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        try:
            self._consumer = Consumer(with_security(config, security))
            self._consumer.assign([TopicPartition(topic, p, start) for p in range(partitions)])
        except KafkaException as exc:
            raise KafkaError(f"cannot read {topic}: {exc}") from exc

    def _on_error(self, err: RdKafkaError) -> None:
        if err.code() == RdKafkaError._ALL_BROKERS_DOWN:
            self._broker_up = False
        if not self._auth.report(err, f"read {self._topic}"):
            log_client_error(log, f"kafka tail {self._topic}", err, self._repeats)

    def _on_stats(self, stats_json: str) -> None:
        try:
            brokers = json.loads(stats_json).get("brokers", {})
        except ValueError:
            return
        if brokers:
            self._broker_up = any(b.get("state") == "UP" for b in brokers.values())

    @property
    def broker_up(self) -> bool:
        """False once no broker answers, until one does again (with ``watch_broker``; else
        only the all-brokers-down report turns it False, for good)."""
        return self._broker_up

    @property
    def auth_problem(self) -> str | None:
        """The last authentication/authorization refusal, in words (None: none seen)."""
        return self._auth.last

    @property
    def caught_up(self) -> bool:
        """Every partition reached its end at least once (the initial replay is done)."""
        return len(self._eof) >= self._partitions

    def poll(self, handler: Callable[[Event], None], timeout: float = 0.0) -> int:
        try:
            messages = self._consumer.consume(num_messages=500, timeout=timeout)
        except KafkaException as exc:
            raise KafkaError(f"kafka consume failed on {self._topic}: {exc}") from exc
        handled = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == RdKafkaError._PARTITION_EOF:
                    self._eof.add(msg.partition())
                else:
                    self._on_error(err)
                continue
            if msg.value() is None:
                continue  # a tombstone on the compacted topic
            try:
                event = self._codec.parse(msg.value())
            except InvalidEvent as exc:
                log.warning("skipped invalid event on %s@%d: %s", self._topic, msg.offset(), exc)
                continue
            handler(event)
            handled += 1
        return handled

    def close(self) -> None:
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("kafka tail close: %s", exc)


def network_tails(
    bootstrap: str, topics: Topics, client_id: str, security: KafkaSecurity | None = None
) -> tuple[TopicTail, TopicTail]:
    """The two tails of a view of the network (the driver's, a standby Central's window):
    ``evc.network.state`` from the beginning (every CP's last state, then its changes) and
    ``central_alive`` from the end (which Central serves now)."""

    def tail(topic: str, codec: EventCodec, from_beginning: bool) -> TopicTail:
        return TopicTail(
            bootstrap,
            topic,
            topics.partitions_of(topic),
            codec,
            from_beginning=from_beginning,
            client_id=client_id,
            security=security,
        )

    network = tail(topics.network_state, NETWORK_STATE, from_beginning=True)
    try:
        central = tail(topics.central_status, CENTRAL_STATUS, from_beginning=False)
    except KafkaError:
        network.close()
        raise
    return network, central
