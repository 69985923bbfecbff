"""``EventConsumer``: at-least-once consumption with dead-lettering (PROTOCOL.md §3).

After confluent-kafka-python's consumer examples: ``enable.auto.offset.store=False`` and
``store_offsets(message)`` only after the message was handled (auto-commit then commits
stored offsets every second, and ``close()`` commits the rest), so a crash replays at most
the unfinished tail and never skips a message. Partition EOF is an event (``caught_up``),
not an error.

Where a consumer starts: at its group's committed offset; with none, at the earliest
retained message (``auto_offset_reset="earliest"``), so a driver that starts for the first
time still sees the notices Central produced for it before. ``from_beginning=True``
ignores committed offsets and replays every assigned partition from its start (e.g. a view
rebuilding the compacted ``evc.network.state``). Consumers of high-volume topics whose
history is worthless to them (``central_alive``) should pass ``auto_offset_reset="latest"``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_STORED,
    Consumer,
    KafkaException,
    TopicPartition,
)
from confluent_kafka import KafkaError as RdKafkaError

from wire.errors import InvalidEvent, KafkaError
from wire.kafka.messages import DeadLetter, Event, EventCodec
from wire.kafka.partitioner import partition_for
from wire.kafka.producer import EventProducer
from wire.kafka.quiet import LibrdkafkaLog, RepeatFilter, log_client_error
from wire.kafka.security import AuthProblems, KafkaSecurity, with_security

COMMITTED_FETCH_TIMEOUT_S = 10.0
_COORDINATOR_LOADING = frozenset(
    {
        RdKafkaError.NOT_COORDINATOR,
        RdKafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        RdKafkaError.COORDINATOR_NOT_AVAILABLE,
        RdKafkaError._WAIT_COORD,
    }
)

log = logging.getLogger(__name__)
rdlog = LibrdkafkaLog("consumer")


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    event: Event


Handler = Callable[[Received], None]


@dataclass(frozen=True)
class Handled:
    """What a batch handler may return: its failures, and a future that is done once the
    batch's effects are durable (its offsets are stored only then)."""

    failures: list[tuple[Received, Exception]]
    durable: Future[Any] | None = None


# Takes a batch; returns the events it could not handle, with the error (dead-lettered).
BatchHandler = Callable[[list[Received]], "list[tuple[Received, Exception]] | Handled"]
# Batches read while the effects of older ones are not durable yet (see poll_batch).
MAX_UNDURABLE = 20


def _text(raw: bytes | str | None) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    return raw.decode("utf-8", errors="replace")


class EventConsumer:
    """Reads the topics in ``codecs``, validates values, hands events to a handler."""

    def __init__(
        self,
        bootstrap: str,
        *,
        group_id: str,
        codecs: dict[str, EventCodec],
        dead_letter_topic: str | None,
        producer: EventProducer | None = None,
        from_beginning: bool = False,
        auto_offset_reset: str = "earliest",
        client_id: str = "evc",
        group_instance_id: str | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        if not codecs:
            raise ValueError("an EventConsumer needs at least one topic codec")
        self._codecs = dict(codecs)
        self._dead_letter_topic = dead_letter_topic
        self._from_beginning = from_beginning
        self._own_producer = producer is None and dead_letter_topic is not None
        self._producer = (
            EventProducer(bootstrap, client_id=f"{client_id}-dead-letter", security=security)
            if self._own_producer
            else producer
        )
        self._undurable: deque[tuple[Future[Any] | None, list[Any]]] = deque()
        self._keys: dict[str, set[str]] = {}  # topic -> keys wanted, after assign_key
        self._assigned: set[tuple[str, int]] = set()
        self._at_end: set[tuple[str, int]] = set()
        self._mode: str | None = None
        self._closed = False
        self._repeats = RepeatFilter()
        self._auth = AuthProblems(security, log)
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 1000,
            "enable.auto.offset.store": False,  # stored after the handler returned
            "auto.offset.reset": auto_offset_reset,
            "enable.partition.eof": True,
            # Latency: the broker answers a fetch as soon as fetch.min.bytes (1) is there, so
            # a new message is on its way at once; fetch.wait.max.ms only bounds how long an
            # *idle* fetch is parked. Lowering it buys no latency (measured with
            # scripts/bench_kafka_latency.py) but makes every idle consumer re-fetch more
            # often: 100 idle consumers cost the broker ~7 % of a core at 500 ms, ~15 % at
            # 100 ms, ~50 % at 10 ms. Stated explicitly so nobody "tunes" them down.
            "fetch.min.bytes": 1,
            "fetch.wait.max.ms": 500,
            "reconnect.backoff.max.ms": 1000,
            "log.connection.close": False,
            "error_cb": self._on_error,
            "logger": rdlog,
        }
        if group_instance_id:
            # Static membership: a restarted process with the same instance id takes its
            # partitions back at once instead of waiting out the dead member's session.
            config["group.instance.id"] = group_instance_id
        try:
            self._consumer = Consumer(with_security(config, security))
        except KafkaException as exc:
            raise KafkaError(f"cannot create a Kafka consumer: {exc}") from exc

    @property
    def auth_problem(self) -> str | None:
        """The last authentication/authorization refusal, in words (None: none seen)."""
        return self._auth.last

    def _on_error(self, err: RdKafkaError) -> None:
        if self._auth.report(err, self._reading()):
            return
        log_client_error(log, f"kafka consumer ({','.join(self._codecs)})", err, self._repeats)

    def _reading(self) -> str:
        return "read " + ", ".join(self._codecs)

    # --- what to read ---------------------------------------------------------------------

    def subscribe(self) -> None:
        """Group-managed: the group shares the partitions of every codec's topic."""
        self._set_mode("subscribe")

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self._assigned.update((tp.topic, tp.partition) for tp in partitions)
            if self._from_beginning:
                for tp in partitions:
                    tp.offset = OFFSET_BEGINNING
                consumer.assign(partitions)

        def on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            for tp in partitions:
                self._assigned.discard((tp.topic, tp.partition))
                self._at_end.discard((tp.topic, tp.partition))

        try:
            self._consumer.subscribe(list(self._codecs), on_assign=on_assign, on_revoke=on_revoke)
        except KafkaException as exc:
            raise KafkaError(f"cannot subscribe to {list(self._codecs)}: {exc}") from exc

    def assign_key(self, topic: str, key: str, partitions: int) -> None:
        """Read only ``key``'s partition of ``topic``; other keys there are skipped."""
        if topic not in self._codecs:
            raise ValueError(f"no codec for topic {topic!r}")
        self._set_mode("assign")
        self._keys.setdefault(topic, set()).add(key)
        partition = partition_for(key, partitions)
        if (topic, partition) in self._assigned:
            return
        tp = TopicPartition(topic, partition)
        tp.offset = OFFSET_BEGINNING if self._from_beginning else self._committed_offset(tp)
        try:
            self._consumer.incremental_assign([tp])
        except KafkaException as exc:
            raise KafkaError(f"cannot assign {topic}[{partition}]: {exc}") from exc
        self._assigned.add((topic, partition))

    def _committed_offset(self, tp: TopicPartition) -> int:
        """Where the group left ``tp``, asked explicitly before assigning.

        On a brand-new broker the group coordinator is still loading, and the offset fetch that
        ``assign`` starts by itself can fail with NOT_COORDINATOR and leave the partition
        unread for good; asking first (retrying for a while) avoids that. If the broker does
        not answer at all, librdkafka's own fetch after ``assign`` takes over.
        """
        deadline = time.monotonic() + COMMITTED_FETCH_TIMEOUT_S
        while True:
            try:
                (answer,) = self._consumer.committed([TopicPartition(tp.topic, tp.partition)], 2.0)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                loading = isinstance(err, RdKafkaError) and err.code() in _COORDINATOR_LOADING
                if not loading or time.monotonic() > deadline:
                    log.info("committed offset of %s[%d] unknown: %s", tp.topic, tp.partition, exc)
                    return OFFSET_STORED
                time.sleep(0.25)
                continue
            if answer.error is None and answer.offset >= 0:
                return answer.offset
            return OFFSET_STORED  # nothing committed yet: auto.offset.reset decides

    def _set_mode(self, mode: str) -> None:
        if self._mode not in (None, mode):
            raise ValueError("an EventConsumer either subscribes or assigns keys, not both")
        self._mode = mode

    def lag(self) -> int | None:
        """Messages on the assigned partitions not fetched yet (high watermark minus this
        consumer's position), from librdkafka's local figures: no request to a broker, so
        cheap enough for each scrape. A partition this consumer has read nothing from yet has
        no position and is left out; None while no partition has both figures. Call it from
        the consumer's own thread."""
        if not self._assigned or self._closed:
            return None
        partitions = [TopicPartition(topic, p) for topic, p in sorted(self._assigned)]
        total, known = 0, False
        try:
            for tp in self._consumer.position(partitions):
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and high >= 0:
                    total, known = total + max(0, high - tp.offset), True
        except (KafkaException, RuntimeError):
            return None
        return total if known else None

    @property
    def caught_up(self) -> bool:
        """True once every assigned partition has been read to its end (partition EOF)."""
        return bool(self._assigned) and self._assigned <= self._at_end

    # --- reading --------------------------------------------------------------------------

    def poll(self, handler: Handler, timeout: float = 0.5, max_messages: int = 100) -> int:
        """Handle up to ``max_messages``; returns how many reached ``handler``.

        Waits at most ``timeout`` s, and only until the first message (or partition EOF)
        is there: then everything already fetched, up to ``max_messages``, is handled in
        the same call and ``poll`` returns. (``Consumer.consume(n, timeout)`` alone would
        wait for ``n`` messages or the whole timeout, so a lone message sat in the local
        queue for up to ``timeout``.) Under load, batches stay large because the fetcher
        keeps the local queue filled while the handler works.
        """
        handled = 0
        for msg in self._fetch(timeout, max_messages):
            if self._handle(msg, handler):
                handled += 1
            self._store(msg)
        self._after_poll()
        return handled

    def poll_batch(
        self, handler: BatchHandler, timeout: float = 0.5, max_messages: int = 500
    ) -> int:
        """``poll`` for a handler that takes the whole batch in one call (one hand-over to
        another thread per batch instead of per event). ``handler`` returns the events it
        failed to handle, with the error (dead-lettered), and may return a ``Handled`` with a
        ``durable`` future instead: the batch's offsets are then stored once that future is
        done (its effects written), while the next batches are read and handled meanwhile.
        At most ``MAX_UNDURABLE`` batches wait so; past that this waits for the oldest, so a
        database outage pauses consumption instead of racing ahead of what is written."""
        self._store_durable(wait=len(self._undurable) >= MAX_UNDURABLE)
        if len(self._undurable) >= MAX_UNDURABLE:
            return 0  # still not durable (a database outage): read nothing more for now
        batch: list[Received] = []
        raw: dict[tuple[str, int, int], Any] = {}
        fetched = self._fetch(timeout, max_messages)
        for msg in fetched:
            if self._handle(msg, batch.append):
                raw[(msg.topic(), msg.partition(), msg.offset())] = msg
        durable = None
        if batch:
            result = handler(batch)
            failures, durable = (
                (result.failures, result.durable) if isinstance(result, Handled) else (result, None)
            )
            for received, exc in failures:
                msg = raw[(received.topic, received.partition, received.offset)]
                log.error(
                    "handler failed for %s[%d]@%d: %s",
                    msg.topic(),
                    msg.partition(),
                    msg.offset(),
                    exc,
                )
                self._dead_letter(msg, received.key, f"handler failed: {type(exc).__name__}: {exc}")
        if durable is not None and not durable.done() or self._undurable:
            self._undurable.append((durable, fetched))  # offsets in order, after their effects
        else:
            for msg in fetched:
                self._store(msg)
        self._store_durable(wait=False)
        self._after_poll()
        return len(batch)

    def _store_durable(self, *, wait: bool) -> None:
        """Store the offsets of waiting batches whose effects are durable, oldest first;
        with ``wait``, first wait (up to a second) for the oldest."""
        if wait and self._undurable:
            durable = self._undurable[0][0]
            if durable is not None:
                with contextlib.suppress(FutureTimeout):
                    durable.result(timeout=1.0)
        while self._undurable and (self._undurable[0][0] is None or self._undurable[0][0].done()):
            _, messages = self._undurable.popleft()
            for msg in messages:
                self._store(msg)

    def _fetch(self, timeout: float, max_messages: int) -> list[Any]:
        """The messages of one poll (errors and partition EOF dealt with here)."""
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        try:
            messages = self._consumer.consume(num_messages=1, timeout=timeout)
            if messages and max_messages > 1:
                messages += self._consumer.consume(num_messages=max_messages - 1, timeout=0)
        except KafkaException as exc:
            raise KafkaError(f"kafka consume failed: {exc}") from exc
        good = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == RdKafkaError._PARTITION_EOF:
                    self._at_end.add((msg.topic(), msg.partition()))
                elif self._auth.report(err, self._reading()):
                    pass
                elif err.fatal():
                    raise KafkaError(f"fatal kafka consumer error: {err.str()}")
                else:
                    log.warning("kafka consumer: %s", err.str())
                continue
            self._at_end.discard((msg.topic(), msg.partition()))
            good.append(msg)
        return good

    def _after_poll(self) -> None:
        if self._own_producer and self._producer is not None:
            self._producer.poll(0)

    def _handle(self, msg: Any, handler: Handler) -> bool:
        topic = msg.topic()
        key = _text(msg.key())
        wanted = self._keys.get(topic)
        if wanted is not None and key not in wanted:
            return False  # another key sharing our partition
        try:
            event = self._codecs[topic].parse(msg.value())
        except InvalidEvent as exc:
            self._dead_letter(msg, key, str(exc))
            return False
        try:
            handler(Received(topic, msg.partition(), msg.offset(), key, event))
        except Exception as exc:
            log.exception("handler failed for %s[%d]@%d", topic, msg.partition(), msg.offset())
            self._dead_letter(msg, key, f"handler failed: {type(exc).__name__}: {exc}")
        return True

    def _dead_letter(self, msg: Any, key: str | None, reason: str) -> None:
        log.warning(
            "invalid event on %s[%d]@%d key=%r: %s",
            msg.topic(),
            msg.partition(),
            msg.offset(),
            key,
            reason,
        )
        if self._dead_letter_topic is None or self._producer is None:
            return
        letter = DeadLetter(
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            key=key,
            reason=reason,
            value=_text(msg.value()) or "",
        )
        try:
            self._producer.send(self._dead_letter_topic, key, letter)
        except KafkaError:
            log.exception("could not queue a dead letter for %s@%d", msg.topic(), msg.offset())

    def _store(self, msg: Any) -> None:
        try:
            self._consumer.store_offsets(message=msg)
        except KafkaException as exc:
            # e.g. the partition was revoked meanwhile; the new owner will see it again
            log.warning(
                "could not store offset %s[%d]@%d: %s",
                msg.topic(),
                msg.partition(),
                msg.offset(),
                exc,
            )

    def close(self) -> None:
        """Commit what was handled and leave the group; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("kafka consumer close: %s", exc)
        finally:
            if self._own_producer and self._producer is not None:
                self._producer.close()
