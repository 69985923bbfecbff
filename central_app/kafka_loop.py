"""Central's Kafka side: one producer (the hub's outbox) and one consumer thread.

Central must start and serve monitors with the broker down: the producer queues (librdkafka
keeps retrying), and the consumer thread (``wire.kafka.loop.ConsumeLoop``) keeps trying to
set the topics up every couple of seconds, then subscribes as group ``central`` and hands
every event to the core; a failed poll closes the consumer and subscribes anew. Offsets are
stored only after the handler returned (``EventConsumer``), so a crash replays the unfinished
tail, which the core handles idempotently.

Security (docs/security.md, layers 2 and 3): with ``keys`` (Central's key lookup), commands
and driver notices are sealed as they are queued (:class:`~central_app.sealing.Sealer`), and
``evc.requests`` / ``evc.cp.events`` are read raw and opened here, in the consumer thread,
with the key of the kid each value names; a value that is not sealed, does not open, or
speaks for someone else is dead-lettered with the reason and reported (``on_refused``) to
the owner, which audits it and shows it. Without ``keys`` (``--insecure``) values are plain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from central_app.sealing import MissingKey, Refusal, SealedCodec, Sealer, classify
from wire.errors import InvalidEvent, KafkaAuthError, KafkaError, TopicSetupError
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import BatchHandler, EventConsumer, Handled, Received
from wire.kafka.loop import ConsumeLoop
from wire.kafka.messages import CP_EVENTS, REQUESTS, CentralAlive, DeadLetter, Event, EventCodec
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import KeyLookup
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
MAX_HELD = 100_000


class KafkaLink:
    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        group_id: str = "central",
        client_id: str = "central",
        on_problem: Callable[[str], None] = lambda text: None,
        keys: KeyLookup | None = None,
        on_refused: Callable[[Refusal], None] = lambda refusal: None,
        on_unsealable: Callable[[str, str, Event, str], None] = lambda *args: None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.group_id = group_id
        self.client_id = client_id
        self.on_problem = on_problem
        # SASL_SSL credentials (docs/security.md, layer 1); None: PLAINTEXT
        self.security = security
        self.producer = EventProducer(bootstrap, client_id=client_id, security=security)
        self._consumer: EventConsumer | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send_failures = 0
        self._topics_ok = False
        self._held: deque[tuple[str, str, bytes, Callable[[], None] | None]] = deque()
        self._held_lock = threading.Lock()
        self.on_refused = on_refused
        # events on Central's partitions not fetched yet (EventConsumer.lag), measured on the
        # consumer thread once a second for the metrics; None while unknown
        self.lag: int | None = None
        self._lag_at = 0.0
        # The pair's leadership (runtime): while it returns False, ``send`` drops everything,
        # so a thawed active that was deposed commands no engine and notifies no driver.
        self.gate: Callable[[], bool] | None = None
        self.dropped = 0  # events the gate dropped (read by the runtime, around each batch)
        self.on_unsealable = on_unsealable  # (topic, key, event, why): called on the sender
        self.sealer = Sealer(
            prefix=topics.prefix,
            keys=keys,
            cp_commands=topics.cp_commands,
            driver_notices=topics.driver_notices,
        )
        self._opened: dict[str, SealedCodec] = (
            {}
            if keys is None
            else {
                topic: SealedCodec(codec, topic=topic.removeprefix(topics.prefix), keys=keys)
                for topic, codec in ((topics.requests, REQUESTS), (topics.cp_events, CP_EVENTS))
            }
        )

    @property
    def sealed(self) -> bool:
        return bool(self._opened)

    # --- outbox ---------------------------------------------------------------------------

    def send(
        self,
        topic: str,
        key: str,
        event: Event,
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        """Queue an event (sealed for its CP or driver, commands numbered). Until the topics
        are verified, events wait here: producing earlier would let a broker with
        auto-create make topics with the wrong partition count. ``on_delivered``: called
        (on the thread polling the producer) once the brokers acknowledged it."""
        if not self._topics_ok and isinstance(event, CentralAlive):
            return
        if self.gate is not None and not self.gate():
            self.dropped += 1
            return  # a deposed active of a pair: nothing more goes out
        try:
            value = self.sealer.encode(topic, key, event)
        except MissingKey as exc:
            self.on_unsealable(topic, key, event, str(exc))
            return
        if not self._topics_ok:
            with self._held_lock:
                if not self._topics_ok:
                    if len(self._held) >= MAX_HELD:
                        self._held.popleft()
                    self._held.append((topic, key, value, on_delivered))
                    return
        self._produce(topic, key, value, on_delivered)

    def _release_held(self) -> None:
        with self._held_lock:
            self._topics_ok = True
            held, self._held = self._held, deque()
        for topic, key, value, on_delivered in held:
            self._produce(topic, key, value, on_delivered)

    def _produce(
        self, topic: str, key: str, value: bytes, on_delivered: Callable[[], None] | None = None
    ) -> None:
        try:
            self.producer.send_raw(topic, key.encode("utf-8"), value, on_delivered)
        except KafkaError as exc:
            self._send_failures += 1
            if self._send_failures in (1, 10, 100) or self._send_failures % 1000 == 0:
                self.on_problem(f"cannot queue events for Kafka: {exc}")

    # --- state ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Topics verified and the consumer subscribed."""
        return self._ready.is_set()

    @property
    def up(self) -> bool:
        return self.ready and self.producer.broker_up

    @property
    def queued(self) -> int:
        """Events not delivered yet: held until the topics are verified, plus the producer's
        queue (waiting or in flight). Any thread may read it (the metrics do)."""
        return len(self._held) + self.producer.pending

    # --- consumer thread ------------------------------------------------------------------

    def start(self, handler: BatchHandler) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(handler,), name="central-kafka", daemon=True
        )
        self._thread.start()

    def _run(self, handler: BatchHandler) -> None:
        opened = self._open(handler)

        def poll(consumer: EventConsumer) -> None:
            consumer.poll_batch(opened, timeout=0.5)
            self.producer.poll(0)
            now = time.monotonic()
            if now - self._lag_at >= 1.0:
                self._lag_at = now
                self.lag = consumer.lag()

        ConsumeLoop(
            open=self._open_consumer,
            poll=poll,
            stop=self._stop,
            on_ready=self._consumer_ready,
            on_closed=self._consumer_closed,
            on_problem=self._problem,
            retry_s=RETRY_SECONDS,
        ).run()

    def _open_consumer(self) -> EventConsumer:
        """Verify the topics (once; then the held events leave), subscribe as the group."""
        try:
            if not self._topics_ok:
                ensure_topics(
                    self.bootstrap, self.topics, timeout=RETRY_SECONDS + 1, security=self.security
                )
                self._release_held()
            consumer = EventConsumer(
                self.bootstrap,
                group_id=self.group_id,
                codecs=self._codecs(),
                dead_letter_topic=self.topics.dead_letter,
                producer=self.producer,
                client_id=self.client_id,
                # Static membership: Central is one process per topic namespace, so a restart
                # after SIGKILL takes its partitions back at once instead of waiting out the
                # dead member's 45 s session.
                group_instance_id=self.group_id,
                security=self.security,
            )
            consumer.subscribe()
        finally:
            self.producer.poll(0)
        return consumer

    def _consumer_ready(self, consumer: EventConsumer) -> None:
        self._consumer = consumer
        self._ready.set()
        log.info("kafka consumer subscribed as group %s", self.group_id)

    def _consumer_closed(self) -> None:
        self._consumer = None
        self.lag = None
        self._ready.clear()

    def _problem(self, stage: str, exc: KafkaError) -> None:
        if stage == "poll":
            self.on_problem(f"Kafka consumer failed ({exc}); reconnecting")
            return
        what = "unusable topics" if isinstance(exc, TopicSetupError) else "not reachable"
        text = str(exc) if isinstance(exc, KafkaAuthError) else f"{what} ({exc})"
        self.on_problem(f"Kafka at {self.bootstrap}: {text}; retrying")

    # --- opening sealed values (consumer thread) -------------------------------------------

    def _codecs(self) -> dict[str, EventCodec]:
        if not self._opened:
            return {self.topics.requests: REQUESTS, self.topics.cp_events: CP_EVENTS}
        return {topic: RawCodec() for topic in self._opened}

    def _open(self, handler: BatchHandler) -> BatchHandler:
        """Open the sealed values of a batch (refusing what does not open) before the core
        sees it; in insecure mode the batch goes through as it is."""
        if not self._opened:
            return handler

        def handle(batch: list[Received]) -> list[tuple[Received, Exception]] | Handled:
            opened: list[Received] = []
            for received in batch:
                raw = received.event
                codec = self._opened.get(received.topic)
                if codec is None or not isinstance(raw, RawValue):
                    opened.append(received)
                    continue
                try:
                    event = codec.parse(raw.value)
                except InvalidEvent as exc:
                    self.refuse(received, raw.value, str(exc))
                    continue
                opened.append(replace(received, event=event))
            return handler(opened) if opened else []

        return handle

    def refuse(self, received: Received, value: bytes | None, reason: str | Refusal) -> None:
        """Dead-letter a refused value with the reason and report it to the owner (a
        ``Refusal`` says who and what itself; a reason alone is classified from the value)."""
        refusal = reason if isinstance(reason, Refusal) else None
        reason = refusal.reason if refusal is not None else reason
        # debug only: the owner shows it to the operator (on_refused), one line per value
        log.debug(
            "refused %s[%d]@%d key=%r: %s",
            received.topic,
            received.partition,
            received.offset,
            received.key,
            reason,
        )
        letter = DeadLetter(
            topic=received.topic,
            partition=received.partition,
            offset=received.offset,
            key=received.key,
            reason=reason,
            value=(value or b"").decode("utf-8", errors="replace"),
        )
        try:
            self.producer.send(self.topics.dead_letter, received.key, letter)
        except KafkaError:
            log.exception(
                "could not queue a dead letter for %s@%d", received.topic, received.offset
            )
        if refusal is None:
            kid, action = classify(value, reason)
            refusal = Refusal(
                topic=received.topic,
                partition=received.partition,
                offset=received.offset,
                key=received.key,
                reason=reason,
                kid=kid,
                action=action,
            )
        try:
            self.on_refused(refusal)
        except Exception:
            log.exception("reporting a refused value failed")

    def stop(self, flush_timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.producer.close(timeout=flush_timeout)
