"""Central's Kafka side: one producer (the hub's outbox) and one consumer thread.

Central must start and serve monitors with the broker down: the producer queues (librdkafka
keeps retrying), and the consumer thread keeps trying to set the topics up every couple of
seconds, then subscribes as group ``central`` and hands every event to the core. Offsets are
stored only after the handler returned (``EventConsumer``), so a crash replays the unfinished
tail, which the core handles idempotently.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from wire.errors import KafkaError, TopicSetupError
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Handler
from wire.kafka.messages import CP_EVENTS, REQUESTS, CentralAlive, Event
from wire.kafka.producer import EventProducer
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
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.group_id = group_id
        self.client_id = client_id
        self.on_problem = on_problem
        self.producer = EventProducer(bootstrap, client_id=client_id)
        self._consumer: EventConsumer | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send_failures = 0
        self._topics_ok = False
        self._held: deque[tuple[str, str, Event]] = deque()
        self._held_lock = threading.Lock()

    # --- outbox ---------------------------------------------------------------------------

    def send(self, topic: str, key: str, event: Event) -> None:
        """Queue an event. Until the topics are verified, events wait here: producing earlier
        would let a broker with auto-create make topics with the wrong partition count."""
        if not self._topics_ok:
            with self._held_lock:
                if not self._topics_ok:
                    if isinstance(event, CentralAlive):
                        return
                    if len(self._held) >= MAX_HELD:
                        self._held.popleft()
                    self._held.append((topic, key, event))
                    return
        self._produce(topic, key, event)

    def _release_held(self) -> None:
        with self._held_lock:
            self._topics_ok = True
            held, self._held = self._held, deque()
        for topic, key, event in held:
            self._produce(topic, key, event)

    def _produce(self, topic: str, key: str, event: Event) -> None:
        try:
            self.producer.send(topic, key, event)
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

    # --- consumer thread ------------------------------------------------------------------

    def start(self, handler: Handler) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(handler,), name="central-kafka", daemon=True
        )
        self._thread.start()

    def _run(self, handler: Handler) -> None:
        said_down = False
        while not self._stop.is_set():
            if self._consumer is None:
                try:
                    if not self._topics_ok:
                        ensure_topics(self.bootstrap, self.topics, timeout=RETRY_SECONDS + 1)
                        self._release_held()
                    consumer = EventConsumer(
                        self.bootstrap,
                        group_id=self.group_id,
                        codecs={self.topics.requests: REQUESTS, self.topics.cp_events: CP_EVENTS},
                        dead_letter_topic=self.topics.dead_letter,
                        producer=self.producer,
                        client_id=self.client_id,
                        # Static membership: Central is one process per topic namespace, so a
                        # restart after SIGKILL takes its partitions back at once instead of
                        # waiting out the dead member's 45 s session.
                        group_instance_id=self.group_id,
                    )
                    consumer.subscribe()
                except KafkaError as exc:
                    if not said_down:
                        what = (
                            "unusable topics"
                            if isinstance(exc, TopicSetupError)
                            else "not reachable"
                        )
                        self.on_problem(f"Kafka at {self.bootstrap}: {what} ({exc}); retrying")
                        said_down = True
                    self.producer.poll(0)
                    self._stop.wait(RETRY_SECONDS)
                    continue
                self._consumer = consumer
                self._ready.set()
                said_down = False
                log.info("kafka consumer subscribed as group %s", self.group_id)
            try:
                self._consumer.poll(handler, timeout=0.5)
                self.producer.poll(0)
            except KafkaError as exc:
                self.on_problem(f"Kafka consumer failed ({exc}); reconnecting")
                self._drop_consumer()
                self._stop.wait(RETRY_SECONDS)
        self._drop_consumer()

    def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._ready.clear()
        if consumer is not None:
            consumer.close()

    def stop(self, flush_timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.producer.close(timeout=flush_timeout)
