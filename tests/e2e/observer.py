"""What went over Kafka, for assertions: every partition of the watched topics read from
the start in a thread, with no consumer group (nothing committed, no rebalance)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from central_app.db import engine_url
from tests.waiting import wait_for
from wire.errors import InvalidEvent
from wire.kafka.messages import (
    CP_COMMANDS,
    CP_EVENTS,
    DRIVER_NOTICES,
    NETWORK_STATE,
    Event,
    EventCodec,
)
from wire.kafka.sealed import ForgedEvent, is_sealed, key_bytes, open_value
from wire.kafka.security import KafkaSecurity, with_security
from wire.kafka.topics import Topics

RDLOG = logging.getLogger("tests.e2e.observer.rdkafka")
UNOPENED_PATIENCE_S = 30.0
RDLOG.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() when the observer read it
    topic: str
    key: str | None
    event: Event


class KeysFromDatabase:
    """kid -> key, read from Central's database: its SQLite file, or a database URL
    (PostgreSQL); re-read when a value does not open: a CP that registered again has a new
    key."""

    def __init__(self, where: Path | str) -> None:
        self.where = where
        self._keys: dict[str, bytes] = {}

    def get(self, kid: str) -> bytes | None:
        if kid not in self._keys:
            self.reload()
        return self._keys.get(kid)

    def _rows(self, table: str) -> list[tuple[str, str | None]]:
        query = f"SELECT id, seal_key FROM {table}"
        if isinstance(self.where, Path):
            with contextlib.closing(sqlite3.connect(self.where, timeout=5)) as db:
                return list(db.execute(query))
        engine = create_engine(engine_url(self.where), poolclass=NullPool)  # mysql://: PyMySQL
        try:
            with engine.connect() as conn:
                return [(r[0], r[1]) for r in conn.execute(text(query))]
        finally:
            engine.dispose()

    def reload(self) -> bool:
        if isinstance(self.where, Path) and not self.where.exists():
            return False
        keys: dict[str, bytes] = {}
        try:
            for table, kind in (("charging_points", "cp"), ("drivers", "driver")):
                for ident, key in self._rows(table):
                    if key:
                        keys[f"{kind}:{ident}"] = key_bytes(key)
        except (sqlite3.Error, SQLAlchemyError):
            return False
        changed = keys != self._keys
        self._keys = keys
        return changed


class Observer:
    """Reads every partition of the watched topics from the start, in a thread, no group:
    driver notices, network state, CP events and Central's commands to the engines."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        security: KafkaSecurity | None = None,
        central_db: Path | str | None = None,
    ) -> None:
        self.topics = topics
        # Secured networks seal commands, CP events and driver notices: the observer opens
        # them with the keys in Central's database, as an auditor with the database could.
        self._keys = KeysFromDatabase(central_db) if central_db is not None else None
        self._unopened: list[tuple[float, str, str | None, bytes]] = []
        self.seen: list[Seen] = []
        self._codecs: dict[str, EventCodec] = {
            topics.driver_notices: DRIVER_NOTICES,
            topics.network_state: NETWORK_STATE,
            topics.cp_events: CP_EVENTS,
            topics.cp_commands: CP_COMMANDS,
        }
        self._consumer = Consumer(
            with_security(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": f"e2e-observer-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "reconnect.backoff.max.ms": 500,
                    "log.connection.close": False,
                    "error_cb": lambda err: None,
                    "logger": RDLOG,  # librdkafka's reconnect noise while a broker is down
                },
                security,  # a secured broker: the admin super user (it reads everything)
            )
        )
        self._consumer.assign(
            [
                TopicPartition(topic, p, OFFSET_BEGINNING)
                for topic in self._codecs
                for p in range(topics.partitions_of(topic))
            ]
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="e2e-observer")
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    messages = self._consumer.consume(num_messages=500, timeout=0.2)
                except KafkaException:
                    time.sleep(0.2)
                    continue
                for msg in messages:
                    if msg.error() is not None or msg.value() is None:
                        continue  # partition EOF, a transient error, a tombstone
                    key = msg.key().decode() if msg.key() is not None else None
                    self._take(time.monotonic(), msg.topic(), key, msg.value())
                self._retry_unopened()
        finally:
            self._consumer.close()

    def _take(self, at: float, topic: str, key: str | None, value: bytes) -> None:
        try:
            event = self._parse(topic, value)
        except ForgedEvent:
            # sealed with a key the observer could not read yet (the database was busy, or
            # the row not visible yet): try again for a while rather than lose the event
            self._unopened.append((at, topic, key, value))
            return
        except InvalidEvent:
            return
        self.seen.append(Seen(at, topic, key, event))

    def _retry_unopened(self) -> None:
        if not self._unopened or self._keys is None:
            return
        pending, self._unopened = self._unopened, []
        self._keys.reload()
        now = time.monotonic()
        for at, topic, key, value in pending:
            if now - at > UNOPENED_PATIENCE_S:
                continue  # really not ours to open (a forged value a test produced)
            self._take(at, topic, key, value)  # keeps its read time for `since` filters

    def _parse(self, topic: str, value: bytes) -> Event:
        codec = self._codecs[topic]
        if self._keys is None or not is_sealed(value):
            return codec.parse(value)
        bare = topic.removeprefix(self.topics.prefix)
        for attempt in range(2):
            try:
                return open_value(value, keys=self._keys.get, topic=bare, codec=codec)[1]
            except ForgedEvent:
                if attempt == 0 and self._keys.reload():
                    continue
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    # queries ---------------------------------------------------------------------------------

    def _select(self, topic: str | None, kind: str, since: float, match: dict) -> list[Event]:
        return [
            s.event
            for s in list(self.seen)
            if (topic is None or s.topic == topic)
            and kind == s.event.TYPE
            and s.at >= since
            and all(getattr(s.event, k, None) == v for k, v in match.items())
        ]

    def events(self, kind: str, since: float = 0.0, **match: object) -> list[Event]:
        """Events of type ``kind`` read at or after ``since`` whose fields match."""
        return self._select(None, kind, since, match)

    def notices(self, kind: str, since: float = 0.0, **match: object) -> list[Event]:
        """Only what went to drivers (``supply_started`` exists on two topics)."""
        return self._select(self.topics.driver_notices, kind, since, match)

    def cp_events(self, kind: str, since: float = 0.0, **match: object) -> list[Event]:
        """Only what the engines reported."""
        return self._select(self.topics.cp_events, kind, since, match)

    def wait(self, kind: str, timeout: float, since: float = 0.0, **match: object) -> Event:
        return wait_for(
            lambda: (self.events(kind, since, **match) or [None])[-1], timeout, f"{kind} {match}"
        )

    def wait_one_ticket_each(self, sessions: set[str], timeout: float) -> None:
        """Waits until a ticket notice of each of ``sessions`` was read; then those must be
        all the ticket notices, one a session (none lost, none duplicated on the wire)."""
        wait_for(
            lambda: {n.session_id for n in self.notices("ticket")} >= sessions,
            timeout,
            "the observer reading every ticket notice",
        )
        counts = Counter(n.session_id for n in self.notices("ticket"))
        assert set(counts) == sessions and set(counts.values()) == {1}, counts

    def status(self, cp_id: str) -> str | None:
        states = self.events("cp_state", cp_id=cp_id)
        return states[-1].status if states else None

    def wait_status(self, cp_id: str, status: str, timeout: float) -> None:
        wait_for(
            lambda: self.status(cp_id) == status,
            timeout,
            f"{cp_id} {status} on network state (now {self.status(cp_id)})",
        )

    def statuses_since(self, cp_id: str, since: float) -> list[str]:
        return [e.status for e in self.events("cp_state", since, cp_id=cp_id)]
