"""Read back which ticket notices are on ``evc.driver.notices`` already (a Kafka adapter).

A Central taking office sends again the recent tickets whose notices the brokers never
acknowledged (``sessions.notified_at`` empty, :mod:`central_app.ticket_resend`). That mark
is written after the acknowledgement, so it can be missing for a notice that did leave: the
Central that sent it was killed, deposed (its write fenced) or cut off from the database in
between. The topic itself says what left; this reads it for the drivers concerned, from a
time on, up to the end each partition had when asked.

Only the partitions of those drivers are read (``partition_for``, as they are written), with
no group commits (the ``<prefix>central-view-`` groups of wire.kafka.acls).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError

from wire.errors import InvalidEvent, KafkaError
from wire.kafka.messages import DRIVER_NOTICES, Event, Ticket
from wire.kafka.partitioner import partition_for
from wire.kafka.quiet import LibrdkafkaLog
from wire.kafka.sealed import KeyLookup, driver_kid, open_value
from wire.kafka.security import KafkaSecurity, with_security
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("readback")

#: A ticket notice on the topic: (session_id, whether it is an amendment).
NoticeId = tuple[str, bool]


def ticket_notices(
    bootstrap: str,
    topics: Topics,
    *,
    drivers: Iterable[str],
    since_ms: int,
    timeout: float,
    keys: KeyLookup | None = None,
    security: KafkaSecurity | None = None,
) -> set[NoticeId]:
    """The ticket notices to ``drivers`` written since ``since_ms`` (ms since the epoch).

    ``keys``: the drivers' keys when notices are sealed (Central's ``Ledger.key_for``).
    Raises :class:`~wire.errors.KafkaError` when the brokers do not answer within ``timeout``
    seconds: the caller cannot tell what left, and decides (at least once)."""
    wanted = set(drivers)
    if not wanted:
        return set()
    topic = topics.driver_notices
    opener = _Opener(topic.removeprefix(topics.prefix), keys)
    count = topics.partitions_of(topic)
    partitions = sorted({partition_for(d, count) for d in wanted})
    deadline = time.monotonic() + timeout
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        # librdkafka wants a group id even for manual assignment; nothing is committed
        "group.id": f"{topics.prefix}central-view-readback-{uuid.uuid4().hex[:8]}",
        "client.id": f"{topics.prefix}central-readback",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "log.connection.close": False,
        "logger": rdlog,
    }
    try:
        consumer = Consumer(with_security(config, security))
    except KafkaException as exc:
        raise KafkaError(f"cannot read {topic}: {exc}") from exc
    try:
        starts, ends = _range(consumer, topic, partitions, since_ms, deadline)
        todo = {p for p in partitions if starts[p] < ends[p]}
        if not todo:
            return set()
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in sorted(todo)])
        found: set[NoticeId] = set()
        while todo:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaError(f"{topic} not read back within {timeout:.0f} s")
            for msg in consumer.consume(num_messages=500, timeout=min(left, 0.5)):
                err = msg.error()
                if err is not None:
                    if err.code() == RdKafkaError._PARTITION_EOF:
                        todo.discard(msg.partition())
                    continue
                if msg.offset() >= ends[msg.partition()] - 1:
                    todo.discard(msg.partition())
                notice = _ticket_of(msg, opener, wanted)
                if notice is not None:
                    found.add(notice)
        return found
    except KafkaException as exc:
        raise KafkaError(f"cannot read {topic}: {exc}") from exc
    finally:
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("read-back consumer close: %s", exc)


def _range(
    consumer: Consumer, topic: str, partitions: list[int], since_ms: int, deadline: float
) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition: the first offset at or after ``since_ms`` and the end now."""
    wait = max(0.1, deadline - time.monotonic())
    found = consumer.offsets_for_times(
        [TopicPartition(topic, p, since_ms) for p in partitions], timeout=wait
    )
    ends: dict[int, int] = {}
    for p in partitions:
        wait = max(0.1, deadline - time.monotonic())
        _low, ends[p] = consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=wait, cached=False
        )
    # -1: no message that recent (nothing to read there)
    starts = {tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition] for tp in found}
    return starts, ends


class _Opener:
    """A driver notice's value as the driver reads it: plain, or sealed with that driver's
    key (``keys``), which must be the key of the message's driver."""

    def __init__(self, topic: str, keys: KeyLookup | None) -> None:
        self._topic = topic  # without prefix: what sealing binds
        self._keys = keys

    def open(self, driver_id: str, value: bytes | None) -> Event:
        if self._keys is None:
            return DRIVER_NOTICES.parse(value)
        kid, event = open_value(value, keys=self._keys, topic=self._topic, codec=DRIVER_NOTICES)
        if kid != driver_kid(driver_id):
            raise InvalidEvent(f"sealed by {kid}, on the key of driver {driver_id}")
        return event


def _ticket_of(msg: Any, opener: _Opener, drivers: set[str]) -> NoticeId | None:
    key = msg.key()
    driver_id = None if key is None else key.decode("utf-8", "replace")
    if driver_id not in drivers:
        return None
    try:
        event = opener.open(driver_id, msg.value())
    except InvalidEvent as exc:
        log.debug("read-back skipped %s@%d: %s", msg.topic(), msg.offset(), exc)
        return None
    if not isinstance(event, Ticket):
        return None
    return event.session_id, event.was_kwh is not None
