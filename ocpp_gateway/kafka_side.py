"""The gateway's Kafka side: the engine of every connected charge point (PROTOCOL.md §3).

One producer and one consumer for the whole process, not one per charge point (librdkafka
runs threads and sockets per client). The consumer reads, in a thread of its own, only the
partitions of ``evc.cp.commands`` that hold the keys of the charge points connected here
(``EventConsumer.assign_key``: other keys sharing a partition are skipped), under the group
``<prefix>engine-ocpp-<gateway id>`` — inside the engine role's ``engine-`` group prefix, so
the gateway runs with the engine's Kafka principal and ACLs (docs/ocpp.md).

Secure mode (the default; docs/security.md): a charge point's commands are opened with its
key from Central (REGISTERED/AUTHORIZED) and checked against its replay window exactly as
EV_CP_E does (``cp_core.command_guard.admit``); its events are sealed with it (kid ``cp:<id>``)
and held until the key is known. An opened command is handed to the event loop with
``call_soon_threadsafe``; nothing here touches the gateway's state from the Kafka thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from cp_core.command_guard import ReplayWindow, admit
from cp_core.journal import Journal
from wire.errors import KafkaError, WireError
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.loop import ConsumeLoop
from wire.kafka.messages import Event
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawValue, command_consumer
from wire.kafka.sealed import cp_kid, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)

CommandHandler = Callable[[str, Event], None]


class KafkaSide:
    def __init__(
        self,
        *,
        bootstrap: str,
        topics: Topics,
        gateway_id: str,
        state_dir: Path,
        loop: asyncio.AbstractEventLoop,
        on_command: CommandHandler,
        security: KafkaSecurity | None = None,
        insecure: bool = False,
    ) -> None:
        self.bootstrap, self.topics, self.security = bootstrap, topics, security
        self.gateway_id = gateway_id
        self.secure = not insecure
        self.state_dir = state_dir
        self._loop = loop
        self._on_command = on_command
        self._lock = threading.Lock()
        self._keys: dict[str, bytes | None] = {}  # cp_id -> its key (None: insecure/unknown)
        self._windows: dict[str, ReplayWindow] = {}
        self._held: dict[str, list[tuple[str, Event]]] = {}
        self._to_assign: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.producer = EventProducer(bootstrap, client_id=f"ocpp-{gateway_id}", security=security)

    # --- called from the event loop ----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ocpp-kafka", daemon=True)
        self._thread.start()

    def watch(self, cp_id: str, key: bytes | None) -> None:
        """Read this charge point's commands from now on (again after a new key)."""
        with self._lock:
            self._keys[cp_id] = key
            if cp_id not in self._windows:
                journal = Journal(self.state_dir, cp_id)
                self._windows[cp_id] = ReplayWindow.from_record(journal.read_replay())
            self._to_assign.add(cp_id)
            held = self._held.pop(cp_id, []) if key is not None or not self.secure else []
        for topic, event in held:
            self._send(cp_id, topic, event)

    def publish(self, cp_id: str, event: Event, topic: str | None = None) -> None:
        """Send an event of this charge point (``evc.cp.events`` unless told otherwise)."""
        topic = topic or self.topics.cp_events
        with self._lock:
            if self.secure and self._keys.get(cp_id) is None:
                self._held.setdefault(cp_id, []).append((topic, event))
                return
        self._send(cp_id, topic, event)

    def _send(self, cp_id: str, topic: str, event: Event) -> None:
        try:
            key = self._keys.get(cp_id)
            if not self.secure or key is None:
                self.producer.send(topic, cp_id, event)
            else:
                bound_to = topic.removeprefix(self.topics.prefix)
                value = seal(event, key=key, kid=cp_kid(cp_id), topic=bound_to)
                self.producer.send_raw(topic, cp_id.encode(), value)
        except KafkaError as exc:
            log.warning("%s: cannot queue %s: %s", cp_id, event.TYPE, exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self.producer.flush(3.0 if self.producer.broker_up else 0.5)
        self.producer.close(0.5)

    # --- the Kafka thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            ensure_topics(self.bootstrap, self.topics, timeout=3.0, security=self.security)
        except WireError as exc:
            log.warning("topics not verified: %s", exc)
        ConsumeLoop(
            open=self._open_consumer,
            poll=self._poll,
            stop=self._stop,
            between=lambda: self.producer.poll(0),
            on_problem=lambda stage, exc: log.warning("command consumer (%s): %s", stage, exc),
            reopen=False,  # librdkafka reconnects an assigned consumer by itself
            retry_s=1.0,
            poll_retry_s=0.5,
        ).run()

    def _poll(self, consumer: EventConsumer) -> None:
        """Assign the partitions of newly watched charge points, then read for 0.2 s."""
        with self._lock:
            wanted, self._to_assign = self._to_assign, set()
        try:
            for cp_id in wanted:
                consumer.assign_key(
                    self.topics.cp_commands,
                    cp_id,
                    self.topics.partitions_of(self.topics.cp_commands),
                )
            consumer.poll(self._handle, timeout=0.2)
        except KafkaError:
            with self._lock:  # assigned again at the next turn
                self._to_assign |= wanted
            raise

    def _open_consumer(self) -> EventConsumer:
        """The one command consumer of the gateway (a ``KafkaError`` is retried by the loop)."""
        return command_consumer(
            self.bootstrap,
            self.topics,
            group=f"engine-ocpp-{self.gateway_id}",
            client_id=f"ocpp-{self.gateway_id}",
            secure=self.secure,
            producer=self.producer,
            security=self.security,
        )

    def _handle(self, received: Received) -> None:
        cp_id = received.key or ""
        event = received.event
        if isinstance(event, RawValue):
            opened = self._admit(cp_id, event.value, received.offset)
            if opened is None:
                return
            event = opened
        if getattr(event, "cp_id", None) != cp_id:
            return
        self._loop.call_soon_threadsafe(self._on_command, cp_id, event)

    def _admit(self, cp_id: str, value: bytes | None, offset: int) -> Event | None:
        with self._lock:
            key, window = self._keys.get(cp_id), self._windows.get(cp_id)
        if key is None or window is None:
            return None
        admitted = admit(
            value, cp_id=cp_id, key=key, window=window, store=lambda w: self._store(cp_id, w)
        )
        if isinstance(admitted, Event):
            return admitted
        log.warning("%s: command at offset %d refused: %s", cp_id, offset, admitted.reason)
        self._send(cp_id, self.topics.cp_events, admitted.event(cp_id, offset))
        return None

    def _store(self, cp_id: str, window: ReplayWindow) -> None:
        try:
            Journal(self.state_dir, cp_id).write_replay(window.to_record())
        except OSError as exc:
            log.warning("%s: cannot store the replay window: %s", cp_id, exc)
