"""The Kafka side of the fleet, in its own process: the CPs' engines, the drivers, an observer.

* Engines: one consumer for every partition of ``evc.cp.commands``; ``authorize`` is answered
  with ``supply_started`` at once (the car is plugged in), then ``supply_progress`` every
  second and ``supply_ended`` (``unplugged``) after ``supply_seconds``; ``stop`` ends the
  supply (``stopped``).
* Drivers: ``charge_request``s to CPs that are free in the simulation, so that ``share`` of
  the connected CPs are busy; one consumer for every driver's notices measures
  request → ``authorized`` and engine ``supply_progress`` → driver ``supply_progress``.
* Observer: ``evc.network.state``; every DISCONNECTED with Central's timestamp.

Latencies are measured on this process's monotonic clock (request and notice, progress sent
and relayed, are both seen here).

Sealed (``sealed=True``, docs/security.md layer 2): engine events are sealed with each CP's
key (handed over by the coordinator from the monitors' REGISTERED / AUTHORIZED, command
``keys``), charge requests with the driver's key (read by the coordinator from Central's
database, where the seed file's drivers got one), and commands and notices are opened with
those keys, as EV_CP_E and EV_Driver do. The AES-GCM work is in this process's figures.

On a SASL_SSL broker (``kafka_secrets``: the run's secrets directory) each side
authenticates as the role it stands for, with that role's ACLs: the engines (their producer
and consumer) as ``engine``, the drivers and the observer as ``driver``; their consumer
groups are named inside those roles' group prefixes (``<prefix>engine-``, ``<prefix>driver-``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleet.child import ChildFailure, describe, log_to
from fleet.limits import raise_nofile
from fleet.security import KafkaAccess
from fleet.stats import Histogram
from wire.errors import WireError
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import (
    CP_COMMANDS,
    DRIVER_NOTICES,
    NETWORK_STATE,
    Authorize,
    AuthorizedNotice,
    ChargeRequest,
    CpState,
    Denied,
    EventCodec,
    Stop,
    SupplyEnded,
    SupplyInterrupted,
    SupplyProgress,
    SupplyProgressNotice,
    SupplyStarted,
    Ticket,
)
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import cp_kid, driver_kid, key_bytes, open_value, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.states import CpStatus
from wire.timefmt import now_ts, parse_ts

log = logging.getLogger("fleet.kafka_sim")
BARE = Topics()  # sealed values are bound to the topic name without the run's prefix

KW = 22.0
REQUEST_GIVE_UP_S = 15.0


@dataclass
class KafkaPhaseStats:
    requests: int = 0
    authorized: int = 0
    denied: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    tickets: int = 0
    interrupted: int = 0
    progress_sent: int = 0
    progress_relayed: int = 0
    auth_latency: Histogram = field(default_factory=Histogram)
    progress_latency: Histogram = field(default_factory=Histogram)
    unsealable: int = 0  # events or requests not sent: no key for the CP or driver yet
    unopened: int = 0  # commands or notices that did not open with the key they name

    def merge(self, other: KafkaPhaseStats) -> None:
        for name in (
            "requests",
            "authorized",
            "unanswered",
            "tickets",
            "interrupted",
            "unsealable",
            "unopened",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.progress_sent += other.progress_sent
        self.progress_relayed += other.progress_relayed
        for reason, n in other.denied.items():
            self.denied[reason] = self.denied.get(reason, 0) + n
        self.auth_latency.merge(other.auth_latency)
        self.progress_latency.merge(other.progress_latency)


@dataclass
class Supply:
    session_id: str
    cp_id: str
    driver_id: str
    price: float
    started_at: str
    ends: float
    next_due: float
    seq: int = 0
    kwh: float = 0.0

    @property
    def ids(self) -> dict[str, str]:
        """The ids each event of this supply carries (``wire.kafka.messages.SessionEvent``)."""
        return {"session_id": self.session_id, "cp_id": self.cp_id, "driver_id": self.driver_id}


@dataclass
class Pending:
    driver_id: str
    cp_id: str
    sent: float
    stats: KafkaPhaseStats
    authorized: bool = False


class KafkaSim:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        cp_ids: list[str],
        driver_ids: list[str],
        *,
        supply_seconds: float = 30.0,
        share: float = 0.2,
        seed: int = 0,
        sealed: bool = False,
        driver_keys: dict[str, str] | None = None,
        kafka_secrets: str | None = None,
    ) -> None:
        self.topics = Topics(prefix)
        access = KafkaAccess(Path(kafka_secrets) if kafka_secrets else None)
        engine, driver = access.security("engine"), access.security("driver")
        self.sealed = sealed
        self.cp_keys: dict[str, bytes] = {}  # cp_id -> key (replaced whole, never mutated)
        self.driver_keys = {d: key_bytes(k) for d, k in (driver_keys or {}).items()}
        self._said_unopened = False
        self.cp_ids = cp_ids
        self.supply_seconds = supply_seconds
        self.share = share
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.phase = "start"
        self.stats: dict[str, KafkaPhaseStats] = {"start": KafkaPhaseStats()}
        self.current = self.stats["start"]
        self.supplies: dict[str, Supply] = {}  # cp_id -> supply the engine runs
        self.pending: dict[str, Pending] = {}  # request_id -> the driver's request
        self.by_session: dict[str, str] = {}  # session_id -> request_id
        self.busy_cps: set[str] = set()
        # sealed: only drivers with a key can ask (Central would refuse the others anyway)
        self.idle_drivers: deque[str] = deque(
            d for d in driver_ids if not sealed or d in self.driver_keys
        )
        self.progress_sent: dict[str, dict[float, float]] = {}  # session -> kWh -> sent
        self.disconnected: list[tuple[str, float]] = []
        self.cp_states = 0
        self.target = 0
        self.drivers_on = False
        self._credit = 0.0
        self.engine_producer = EventProducer(bootstrap, client_id="fleet-engines", security=engine)
        self.driver_producer = EventProducer(bootstrap, client_id="fleet-drivers", security=driver)
        t = self.topics

        def consumer(
            group: str,
            codecs: dict[str, EventCodec],
            client_id: str,
            security: KafkaSecurity | None,
        ) -> EventConsumer:
            """One of the simulation's readers: a group of the run's own, no dead letters."""
            return EventConsumer(
                bootstrap,
                group_id=f"{prefix}{group}",
                codecs=codecs,
                dead_letter_topic=None,
                client_id=client_id,
                security=security,
            )

        self.engines = consumer(
            "engine-fleet",
            {t.cp_commands: RawCodec() if sealed else CP_COMMANDS},
            "fleet-engines",
            engine,
        )
        self.notices = consumer(
            "driver-fleet",
            {t.driver_notices: RawCodec() if sealed else DRIVER_NOTICES},
            "fleet-drivers",
            driver,
        )
        self.observer = consumer(
            "driver-fleet-observer", {t.network_state: NETWORK_STATE}, "fleet-observer", driver
        )
        self.threads: list[threading.Thread] = []

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        for consumer in (self.engines, self.notices, self.observer):
            consumer.subscribe()
        for name, target in (
            ("engines", lambda: self._consume(self.engines, self._on_command)),
            ("drivers", lambda: self._consume(self.notices, self._on_notice)),
            ("observer", lambda: self._consume(self.observer, self._on_state)),
            ("ticker", self._ticker),
        ):
            thread = threading.Thread(target=target, name=f"fleet-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    @property
    def ready(self) -> bool:
        return all(c.caught_up for c in (self.engines, self.notices, self.observer))

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(5)
        for consumer in (self.engines, self.notices, self.observer):
            consumer.close()
        self.engine_producer.close(3)
        self.driver_producer.close(3)

    def set_phase(self, name: str) -> None:
        with self.lock:
            self.phase = name
            self.current = self.stats.setdefault(name, KafkaPhaseStats())

    def add_keys(self, keys: dict[str, str]) -> None:
        merged = dict(self.cp_keys)
        merged.update((cp_id, key_bytes(key)) for cp_id, key in keys.items())
        self.cp_keys = merged  # one reference swap: the consumer threads read it unlocked

    def _key_of(self, kid: str) -> bytes | None:
        kind, _, ident = kid.partition(":")
        if kind == "cp":
            return self.cp_keys.get(ident)
        if kind == "driver":
            return self.driver_keys.get(ident)
        return None

    def _open(self, value: bytes | None, topic: str, codec: Any) -> Any:
        """The event sealed in ``value`` (commands, notices), or None when it does not open."""
        try:
            return open_value(value, keys=self._key_of, topic=topic, codec=codec)[1]
        except WireError as exc:
            with self.lock:
                self.current.unopened += 1
            if not self._said_unopened:
                self._said_unopened = True
                log.warning("a sealed %s value did not open: %s (said once)", topic, exc)
            return None

    def _seal(self, event: Any, kid: str, key: bytes | None, topic: str) -> bytes | None:
        if key is None:
            with self.lock:
                self.current.unsealable += 1
            return None
        return seal(event, key=key, kid=kid, topic=topic.removeprefix(self.topics.prefix))

    def _consume(self, consumer: EventConsumer, handler: Any) -> None:
        while not self.stop_event.is_set():
            try:
                consumer.poll(handler, timeout=0.2, max_messages=1000)
            except WireError as exc:
                log.warning("fleet consumer: %s", exc)
                self.stop_event.wait(0.5)

    # --- engines -------------------------------------------------------------------------

    def _on_command(self, received: Received) -> None:
        event = received.event
        if isinstance(event, RawValue):
            event = self._open(event.value, BARE.cp_commands, CP_COMMANDS)
        if isinstance(event, Authorize):
            now = time.monotonic()
            supply = Supply(
                session_id=event.session_id,
                cp_id=event.cp_id,
                driver_id=event.driver_id,
                price=event.price,
                started_at=now_ts(),
                ends=now + self.supply_seconds,
                next_due=now + 1.0,
            )
            with self.lock:
                self.supplies[event.cp_id] = supply
            self._send_event(SupplyStarted(**supply.ids, started_at=supply.started_at))
        elif isinstance(event, Stop):
            with self.lock:
                supply = self.supplies.pop(event.cp_id, None)
            if supply is not None:
                self._end(supply, "stopped")

    def _send_event(self, event: Any) -> None:
        topic = self.topics.cp_events
        try:
            if not self.sealed:
                self.engine_producer.send(topic, event.cp_id, event)
                return
            value = self._seal(event, cp_kid(event.cp_id), self.cp_keys.get(event.cp_id), topic)
            if value is not None:
                self.engine_producer.send_raw(topic, event.cp_id.encode(), value)
        except WireError as exc:
            log.warning("fleet engine: %s", exc)

    def _end(self, supply: Supply, reason: str) -> None:
        self._send_event(
            SupplyEnded(
                **supply.ids,
                kwh=round(supply.kwh, 3),
                eur=round(supply.kwh * supply.price, 2),
                started_at=supply.started_at,
                ended_at=now_ts(),
                reason=reason,
            )
        )

    def _engines_tick(self, now: float) -> None:
        due: list[Supply] = []
        ended: list[Supply] = []
        with self.lock:
            for cp_id, supply in list(self.supplies.items()):
                if now >= supply.ends:
                    del self.supplies[cp_id]
                    ended.append(supply)
                elif now >= supply.next_due:
                    supply.next_due += 1.0
                    supply.seq += 1
                    supply.kwh += KW / 3600.0
                    due.append(supply)
        for supply in due:
            kwh = round(supply.kwh, 3)
            with self.lock:
                sent = self.progress_sent.setdefault(supply.session_id, {})
                sent[kwh] = time.monotonic()
                self.current.progress_sent += 1
            self._send_event(
                SupplyProgress(
                    **supply.ids,
                    seq=supply.seq,
                    kw=KW,
                    kwh=kwh,
                    eur=round(kwh * supply.price, 2),
                )
            )
        for supply in ended:
            self._end(supply, "unplugged")
            with self.lock:
                self.progress_sent.pop(supply.session_id, None)

    # --- drivers -------------------------------------------------------------------------

    def _on_notice(self, received: Received) -> None:
        event = received.event
        now = time.monotonic()
        if isinstance(event, RawValue):
            event = self._open(event.value, BARE.driver_notices, DRIVER_NOTICES)
        with self.lock:
            if isinstance(event, AuthorizedNotice):
                pending = self.pending.get(event.request_id)
                if pending is not None and not pending.authorized:
                    pending.authorized = True
                    pending.stats.authorized += 1
                    pending.stats.auth_latency.add(now - pending.sent)
                    self.by_session[event.session_id] = event.request_id
            elif isinstance(event, Denied):
                pending = self.pending.pop(event.request_id, None)
                if pending is not None:
                    code = event.reason.split(":", 1)[0]
                    pending.stats.denied[code] = pending.stats.denied.get(code, 0) + 1
                    self._free(pending)
            elif isinstance(event, SupplyProgressNotice):
                by_kwh = self.progress_sent.get(event.session_id)
                sent = by_kwh.pop(round(event.kwh, 3), None) if by_kwh else None
                if sent is not None:
                    self.current.progress_relayed += 1
                    self.current.progress_latency.add(now - sent)
            elif isinstance(event, SupplyInterrupted):
                self.current.interrupted += 1
            elif isinstance(event, Ticket):
                self.current.tickets += 1
                request_id = self.by_session.pop(event.session_id, None)
                pending = self.pending.pop(request_id, None) if request_id else None
                if pending is not None:
                    self._free(pending)

    def _free(self, pending: Pending) -> None:
        self.busy_cps.discard(pending.cp_id)
        self.idle_drivers.append(pending.driver_id)

    def _drivers_tick(self, now: float, dt: float) -> None:
        requests: list[ChargeRequest] = []
        with self.lock:
            for request_id, pending in list(self.pending.items()):
                limit = REQUEST_GIVE_UP_S if not pending.authorized else self.supply_seconds + 60
                if now - pending.sent > limit:
                    del self.pending[request_id]
                    if not pending.authorized:
                        pending.stats.unanswered += 1
                    self._free(pending)
            if not self.drivers_on:
                return
            deficit = self.target - len(self.pending)
            rate = max(20.0, self.target / 5.0)
            self._credit = min(self._credit + rate * dt, max(rate * dt, 1.0))
            while deficit > 0 and self._credit >= 1.0 and self.idle_drivers:
                cp_id = self._free_cp()
                if cp_id is None:
                    break
                driver_id = self.idle_drivers.popleft()
                request_id = uuid.uuid4().hex
                self.busy_cps.add(cp_id)
                self.pending[request_id] = Pending(driver_id, cp_id, now, self.current)
                self.current.requests += 1
                requests.append(
                    ChargeRequest(request_id=request_id, driver_id=driver_id, cp_id=cp_id)
                )
                deficit -= 1
                self._credit -= 1.0
        topic = self.topics.requests
        for request in requests:
            try:
                if not self.sealed:
                    self.driver_producer.send(topic, request.cp_id, request)
                    continue
                key = self.driver_keys.get(request.driver_id)
                value = self._seal(request, driver_kid(request.driver_id), key, topic)
                if value is not None:
                    self.driver_producer.send_raw(topic, request.cp_id.encode(), value)
            except WireError as exc:
                log.warning("fleet driver: %s", exc)

    def _free_cp(self) -> str | None:
        for _ in range(50):
            cp_id = self.random.choice(self.cp_ids)
            if cp_id not in self.busy_cps and cp_id not in self.supplies:
                if self.sealed and cp_id not in self.cp_keys:
                    continue  # its commands could not be opened
                return cp_id
        return None

    # --- observer ------------------------------------------------------------------------

    def _on_state(self, received: Received) -> None:
        event = received.event
        if not isinstance(event, CpState):
            return
        self.cp_states += 1
        if event.status == CpStatus.DISCONNECTED:
            with contextlib.suppress(ValueError):
                when = parse_ts(event.ts).timestamp()
                with self.lock:
                    self.disconnected.append((event.cp_id, when))

    # --- the clock -----------------------------------------------------------------------

    def _ticker(self) -> None:
        last = time.monotonic()
        while not self.stop_event.wait(0.05):
            now = time.monotonic()
            try:
                self._engines_tick(now)
                self._drivers_tick(now, now - last)
                self.engine_producer.poll(0)
                self.driver_producer.poll(0)
            except Exception:  # never let the clock die silently mid-run
                log.exception("fleet ticker")
            last = now

    # --- reports -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ready": self.ready,
                "supplies": len(self.supplies),
                "pending": len(self.pending),
                "stats": self.current,
                "disconnected": len(self.disconnected),
            }

    def collect(self) -> dict[str, Any]:
        with self.lock:
            return {"stats": self.stats, "disconnected": list(self.disconnected)}


def kafka_main(
    conn: Connection,
    bootstrap: str,
    prefix: str,
    cp_ids: list[str],
    driver_ids: list[str],
    options: dict[str, Any],
    log_path: str | None = None,
) -> None:
    """Entry point of the Kafka process (``multiprocessing`` spawn target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log_to(Path(log_path) if log_path else None, "kafka-sim")
    try:
        _serve(conn, bootstrap, prefix, cp_ids, driver_ids, options)
    except BaseException:
        log.exception("the Kafka simulation died (pid %d)", os.getpid())
        raise


def _serve(
    conn: Connection,
    bootstrap: str,
    prefix: str,
    cp_ids: list[str],
    driver_ids: list[str],
    options: dict[str, Any],
) -> None:
    raise_nofile()
    sim = KafkaSim(bootstrap, prefix, cp_ids, driver_ids, **options)
    sim.start()
    try:
        while True:
            try:
                command, *args = conn.recv()
            except (EOFError, OSError) as exc:
                log.warning("pipe from the coordinator closed (%s): stopping", describe(exc))
                break
            reply: Any = None
            try:
                if command == "stop":
                    conn.send(None)
                    break
                reply = _dispatch(sim, command, args)
            except Exception as exc:
                log.exception("command %r failed", command)
                reply = ChildFailure(command, describe(exc))
            conn.send(reply)
    finally:
        sim.stop()


def _dispatch(sim: KafkaSim, command: str, args: list[Any]) -> Any:
    if command == "phase":
        sim.set_phase(args[0])
    elif command == "drivers":
        with sim.lock:
            sim.drivers_on, sim.target = args[0], int(args[1])
    elif command == "keys":
        sim.add_keys(args[0])
    elif command == "snapshot":
        return sim.snapshot()
    elif command == "collect":
        return sim.collect()
    else:
        raise ValueError(f"unknown command {command!r}")
    return None
