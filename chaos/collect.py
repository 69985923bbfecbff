"""Gathering the evidence from what left the programs (see ``chaos.evidence``).

- Kafka: every partition of the protocol's topics read from its start to its end with the
  ``admin`` role (``kafka-admin.properties`` of the secrets directory), no consumer group;
  sealed values opened with the CP and driver keys in Central's database
  (``wire.kafka.sealed``), as an auditor with the database could;
- the database: the ``sessions`` rows, as ``central_app.reconcile`` reads them (by the
  columns' names: chaos does not import Central);
- the engines' journals (``<run dir>/journal/<cp>.json``), the logs (``<run dir>/logs``) and
  the drivers' output in them.

Also :class:`LiveView`, the network state as it changes, for the campaign's progress lines.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition
from sqlalchemy import column, create_engine, select, table, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from chaos.evidence import DbSession, DriverOutput, LogExcerpt, Rec, Unopened
from wire.books import Row
from wire.errors import InvalidEvent
from wire.kafka.messages import (
    CENTRAL_STATUS,
    CP_COMMANDS,
    CP_EVENTS,
    DRIVER_NOTICES,
    NETWORK_STATE,
    REQUESTS,
    EventCodec,
)
from wire.kafka.sealed import is_sealed, key_bytes, open_value
from wire.kafka.security import KafkaSecurity, with_security
from wire.kafka.topics import Topics
from wire.timefmt import parse_ts

log = logging.getLogger(__name__)
RDLOG = logging.getLogger("chaos.rdkafka")
RDLOG.setLevel(logging.CRITICAL)  # librdkafka's reconnect noise while brokers are down

CODECS: dict[str, EventCodec] = {
    "evc.requests": REQUESTS,
    "evc.cp.commands": CP_COMMANDS,
    "evc.cp.events": CP_EVENTS,
    "evc.driver.notices": DRIVER_NOTICES,
    "evc.network.state": NETWORK_STATE,
    "evc.central.status": CENTRAL_STATUS,
}


def keys_from_database(url: str) -> dict[str, bytes]:
    """kid -> key for every CP and driver in Central's database."""
    engine = create_engine(url, poolclass=NullPool)
    keys: dict[str, bytes] = {}
    try:
        with engine.connect() as conn:
            for table, kind in (("charging_points", "cp"), ("drivers", "driver")):
                for ident, key in conn.execute(text(f"SELECT id, seal_key FROM {table}")):
                    if key:
                        keys[f"{kind}:{ident}"] = key_bytes(key)
    finally:
        engine.dispose()
    return keys


#: Central's ``sessions`` table, as much of it as the checker reads
SESSIONS = table(
    "sessions",
    *(
        column(name)
        for name in (
            "id", "session_id", "cp_id", "driver_id", "status", "price", "kwh", "eur",
            "meter_kwh", "flag", "authorized_at", "expires_at", "ended_at", "request_id",
            "origin", "started_at", "provisional", "amended_from",
        )
    ),
)  # fmt: skip


def sessions_from_database(url: str) -> list[DbSession]:
    S = SESSIONS.c
    columns = [
        S.session_id, S.cp_id, S.driver_id, S.status, S.price, S.kwh, S.eur, S.meter_kwh,
        S.flag, S.authorized_at, S.expires_at, S.ended_at,
    ]  # fmt: skip
    extra = [S.request_id, S.origin, S.started_at, S.provisional, S.amended_from]
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(*columns, *extra).order_by(S.id)).all()
    finally:
        engine.dispose()
    n = len(columns)
    return [
        DbSession(
            Row(*r[:n]),
            request_id=r[n],
            origin=r[n + 1] or "app",
            started_at=r[n + 2],
            provisional=bool(r[n + 3]),
            amended_from=r[n + 4],
        )
        for r in rows
    ]


def open_tickets(url: str) -> tuple[int, int]:
    """(tickets, sessions still open) in the database; (-1, -1) when it does not answer."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            query = (
                "SELECT sum(CASE WHEN status = 'ticketed' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN status IN ('authorized', 'supplying') THEN 1 ELSE 0 END) "
                "FROM sessions"
            )
            tickets, open_ = conn.execute(text(query)).one()
            return int(tickets or 0), int(open_ or 0)
    except SQLAlchemyError:
        return -1, -1
    finally:
        engine.dispose()


def _consumer(bootstrap: str, security: KafkaSecurity | None) -> Consumer:
    return Consumer(
        with_security(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"evc-chaos-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "reconnect.backoff.max.ms": 500,
                "log.connection.close": False,
                "error_cb": lambda err: None,
                "logger": RDLOG,
            },
            security,
        )
    )


def read_topics(
    bootstrap: str,
    security: KafkaSecurity | None,
    keys: Callable[[], dict[str, bytes]],
    topics: Topics | None = None,
    timeout: float = 120.0,
) -> tuple[list[Rec], list[Unopened]]:
    """Every value of the protocol's topics, from the start to the end of each partition."""
    topics = topics or Topics()
    consumer = _consumer(bootstrap, security)
    wanted: dict[tuple[str, int], int] = {}
    try:
        for bare in CODECS:
            name = topics.prefix + bare
            for p in range(topics.partitions_of(name)):
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=30)
                if high > low:
                    wanted[(name, p)] = high
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in wanted])
        raw: list[tuple[str, int, int, float, str | None, bytes]] = []
        done: set[tuple[str, int]] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(wanted) and time.monotonic() < deadline:
            try:
                messages = consumer.consume(num_messages=1000, timeout=0.5)
            except KafkaException:
                continue
            for msg in messages:
                if msg.error() is not None:
                    continue
                where = (msg.topic(), msg.partition())
                if msg.value() is not None:
                    key = msg.key().decode(errors="replace") if msg.key() is not None else None
                    ts = msg.timestamp()[1] / 1000.0
                    raw.append((msg.topic(), msg.partition(), msg.offset(), ts, key, msg.value()))
                if msg.offset() + 1 >= wanted.get(where, 0):
                    done.add(where)
        missing = sorted(set(wanted) - done)
        if missing:
            raise RuntimeError(f"could not read to the end of {missing} within {timeout:.0f} s")
    finally:
        consumer.close()
    ring = keys()
    records, unopened = [], []
    for topic, partition, offset, ts, key, value in raw:
        bare = topic.removeprefix(topics.prefix)
        try:
            if is_sealed(value):
                event = open_value(value, keys=ring.get, topic=bare, codec=CODECS[bare])[1]
            else:
                event = CODECS[bare].parse(value)
        except InvalidEvent as exc:
            unopened.append(Unopened(bare, partition, offset, str(exc)))
            continue
        records.append(Rec(bare, partition, offset, ts, key, event))
    return records, unopened


def read_journals(directory: Path) -> dict[str, dict]:
    """The engines' journals that still hold something (a running supply, an unsent end)."""
    import json

    out = {}
    for path in sorted(directory.glob("*.json")):
        if path.name.endswith(".replay.json"):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("status") in ("running", "ended"):
            out[path.stem] = record
    return out


TRACEBACK = "Traceback (most recent call last)"


def scan_tracebacks(logs: list[Path]) -> list[LogExcerpt]:
    out = []
    for path in logs:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines):
            if TRACEBACK in line:
                out.append(LogExcerpt(str(path), i + 1, "\n".join(lines[i : i + 20])))
    return out


_REQUEST = re.compile(r"^\[(?P<driver>[^\]]+)\] request \d+ of \d+: ")


def driver_outputs(logs: Path) -> list[DriverOutput]:
    out = []
    for path in sorted(logs.glob("driver-*.log")):
        text_ = path.read_text(errors="replace")
        driver = path.stem.removeprefix("driver-")
        requests = sum(1 for line in text_.splitlines() if _REQUEST.match(line))
        out.append(DriverOutput(driver, requests, text_.count("no answer in")))
    return out


def tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LiveView:
    """The latest ``cp_state`` of every CP and the latest role each Central announced
    (``central_alive``), read in a thread as they are published."""

    def __init__(
        self, bootstrap: str, security: KafkaSecurity | None, topics: Topics | None = None
    ) -> None:
        self.topics = topics or Topics()
        self.status: dict[str, str] = {}
        self.roles: dict[str, str] = {}  # central id -> active / standby
        # central id -> when the process that announced that role started (epoch seconds)
        self.roles_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = _consumer(bootstrap, security)
        state, alive = self.topics.network_state, self.topics.central_status
        self._consumer.assign(
            [
                TopicPartition(state, p, OFFSET_BEGINNING)
                for p in range(self.topics.partitions_of(state))
            ]
            + [TopicPartition(alive, 0, OFFSET_END)]
        )
        self._thread = threading.Thread(target=self._run, name="chaos-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    messages = self._consumer.consume(num_messages=500, timeout=0.3)
                except KafkaException:
                    time.sleep(0.3)
                    continue
                for msg in messages:
                    if msg.error() is not None or msg.value() is None:
                        continue
                    self._take(msg.topic(), msg.value())
        finally:
            self._consumer.close()

    def _take(self, topic: str, value: bytes) -> None:
        try:
            if topic == self.topics.network_state:
                event = NETWORK_STATE.parse(value)
                self.status[event.cp_id] = event.status  # type: ignore[attr-defined]
            else:
                event = CENTRAL_STATUS.parse(value)
                self.roles[event.central_id] = event.role or "active"  # type: ignore[attr-defined]
                with contextlib.suppress(ValueError):
                    started = parse_ts(event.started_at).timestamp()  # type: ignore[attr-defined]
                    self.roles_since[event.central_id] = started  # type: ignore[attr-defined]
        except InvalidEvent:
            return

    def counts(self, cps: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for cp in cps:
            status = self.status.get(cp, "unseen")
            out[status] = out.get(status, 0) + 1
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
