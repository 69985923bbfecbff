"""The Kafka side of the driver: one thread that owns the clients and drives the core.

Threading model: every Kafka client and the ``DriverCore`` live on this one thread; it
polls the notices consumer (up to ``NOTICE_WAIT_S``; a notice ends the wait at once), then
the network and Central tails (no wait), runs commands queued by the UI, and ticks the core.
Views call ``request``/``run_file``/``stop_after_current`` from any thread (they are
queued), and receive the core's ``DriverListener`` calls on this thread — the Qt client
re-emits them as signals, so Qt objects are touched only in the GUI thread, and the GUI
thread never blocks on Kafka.

Nothing can wake a Kafka consume, so ``NOTICE_WAIT_S`` is also how long a queued command (a
charge request) may sit before it is sent: 20 ms keeps that a small part of the request's
round trip, for ~0.3 % of a core per idle driver (0.2 % at 50 ms).

Secure mode (``DriverConfig.key`` set; docs/security.md): charge requests leave sealed with
the driver's key (kid ``driver:<id>``) and notices reach the core only when they open with it
(``driver_app.driver_key.open_notice``). Without a key: plain values (``--insecure``).

The loop is ``wire.kafka.loop.ConsumeLoop`` (the one Central and the engines use too): it
creates the clients (retried every 5 s should that fail: a bad address), polls them, and
while it waits the UI's commands and the core still run.

Kafka down: clients are created without a broker, requests are queued by the producer,
and the Central indicator says "Cannot reach CENTRAL (Kafka broker unreachable)". Nothing
here raises to the user; unexpected errors are logged and the loop goes on.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from driver_app.core import DriverCore, DriverListener
from driver_app.driver_key import open_notice
from driver_app.history import TicketHistory
from driver_app.services import ServiceEntry
from wire.errors import KafkaError, WireError
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.loop import ConsumeLoop
from wire.kafka.messages import (
    DRIVER_NOTICES,
    CentralAlive,
    ChargeRequest,
    CpState,
)
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import driver_kid, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.tail import TopicTail, network_tails
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)

#: the loop's longest wait for a notice, and so the longest a queued command waits
NOTICE_WAIT_S = 0.02

#: the wait between two attempts to create the Kafka clients (only a bad address fails)
CLIENT_RETRY_S = 5.0
#: how often the UI's commands and the core run while the loop waits
IDLE_TICK_S = 0.1

T = TypeVar("T")


class _Clients(NamedTuple):
    notices: EventConsumer
    network: TopicTail
    central: TopicTail

    def close(self) -> None:
        for client in self:
            try:
                client.close()
            except Exception:  # closing must not hide the reason we stopped
                log.exception("closing a Kafka client")


@dataclass(frozen=True, slots=True)
class DriverConfig:
    bootstrap: str
    driver_id: str
    topics: Topics = Topics()
    data_dir: Path | None = None  # None: history in memory only
    request_timeout_s: float = 10.0
    pause_s: float = 4.0
    central_silence_s: float = 3.0
    network_grace_s: float = 3.0
    key: bytes | None = None  # the driver's key: sealed values; None = plain (--insecure)
    security: KafkaSecurity | None = None  # Kafka SASL_SSL credentials; None = PLAINTEXT

    @property
    def group_id(self) -> str:
        """Namespaced like the topics (Kafka ACLs grant the driver role ``<prefix>driver-*``)."""
        return f"{self.topics.prefix}driver-{self.driver_id}"


class DriverRuntime:
    def __init__(self, config: DriverConfig, listener: DriverListener | None = None) -> None:
        self.config = config
        self._commands: queue.SimpleQueue[tuple[Callable[[DriverCore], object], Future]] = (
            queue.SimpleQueue()
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name=f"driver-{config.driver_id}-kafka", daemon=True
        )
        self._producer: EventProducer | None = None
        self._clients: _Clients | None = None
        self._broker_up = True
        self._refused: set[str] = set()
        #: keys of the notices that reached the core (diagnostics; tests check isolation)
        self.notice_keys: list[str | None] = []
        self.core = DriverCore(
            config.driver_id,
            self._send,
            listener,
            history=TicketHistory(config.data_dir),
            request_timeout_s=config.request_timeout_s,
            pause_s=config.pause_s,
            central_silence_s=config.central_silence_s,
            network_grace_s=config.network_grace_s,
        )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once the Kafka clients exist and the first poll happened."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and close the clients (committing handled notices)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # --- commands (any thread) -------------------------------------------------------------

    def submit(self, fn: Callable[[DriverCore], T]) -> Future[T]:
        """Run ``fn(core)`` on the runtime thread; the future holds its result."""
        future: Future[T] = Future()
        self._commands.put((fn, future))
        return future

    def request(self, cp_id: str) -> Future[str | None]:
        """Ask for a charge; the future gives why not (also reported), or None when sent."""

        def do(core: DriverCore) -> str | None:
            why_not = core.request(cp_id)
            if why_not:
                core.listener.report(why_not)
            return why_not

        return self.submit(do)

    def run_file(self, name: str, entries: list[ServiceEntry]) -> Future[str | None]:
        def do(core: DriverCore) -> str | None:
            why_not = core.run_file(name, entries)
            if why_not:
                core.listener.report(why_not)
            return why_not

        return self.submit(do)

    def stop_after_current(self) -> Future[None]:
        return self.submit(lambda core: core.stop_after_current())

    # --- the loop --------------------------------------------------------------------------

    def _send(self, request: ChargeRequest) -> None:
        if self._producer is None:
            raise WireError("Kafka is not set up yet")
        cfg = self.config
        if cfg.key is None:
            self._producer.send(cfg.topics.requests, request.cp_id, request)
            return
        topic = cfg.topics.requests
        value = seal(
            request,
            key=cfg.key,
            kid=driver_kid(cfg.driver_id),
            topic=topic.removeprefix(cfg.topics.prefix),
        )
        self._producer.send_raw(topic, request.cp_id.encode(), value)

    def _main(self) -> None:
        threading.Thread(target=self._ensure_topics, name="driver-topics", daemon=True).start()
        # the producer before the loop's first turn runs a command (a charge request queued
        # at start); should it fail, _open_clients tries again and says why
        with contextlib.suppress(KafkaError):
            self._producer = self._new_producer()
        ConsumeLoop(
            open=self._open_clients,
            poll=self._poll,
            stop=self._stop,
            between=self._turn,
            on_ready=self._clients_ready,
            on_problem=self._kafka_problem,
            reopen=False,  # librdkafka reconnects the clients by itself
            retry_s=CLIENT_RETRY_S,
            poll_retry_s=0.2,
            wait=self._idle,
        ).run()
        if self._producer is not None:
            self._producer.close(timeout=3.0)

    def _open_clients(self) -> _Clients:
        """The producer, the notices consumer and the two tails (creating them needs no
        broker; a KafkaError here is a bad address or configuration, retried anyway)."""
        cfg = self.config
        topics = cfg.topics
        if self._producer is None:
            self._producer = self._new_producer()
        clients: list[EventConsumer | TopicTail] = []
        try:
            notices = EventConsumer(
                cfg.bootstrap,
                group_id=cfg.group_id,
                # secure: notices reach _on_notice unparsed, opened there with the key
                codecs={topics.driver_notices: DRIVER_NOTICES if cfg.key is None else RawCodec()},
                dead_letter_topic=topics.dead_letter,
                producer=self._producer,
                client_id=cfg.group_id,
                security=cfg.security,
            )
            clients.append(notices)
            notices.assign_key(
                topics.driver_notices, cfg.driver_id, topics.partitions_of(topics.driver_notices)
            )
            network, central = network_tails(
                cfg.bootstrap, topics, cfg.group_id, security=cfg.security
            )
        except (KafkaError, ValueError) as exc:
            for client in clients:
                client.close()
            raise KafkaError(str(exc)) from exc
        return _Clients(notices, network, central)

    def _new_producer(self) -> EventProducer:
        cfg = self.config
        return EventProducer(cfg.bootstrap, client_id=cfg.group_id, security=cfg.security)

    def _clients_ready(self, clients: _Clients) -> None:
        self._clients = clients

    def _kafka_problem(self, stage: str, exc: KafkaError) -> None:
        if stage == "open":
            log.error("cannot set up Kafka clients: %s", exc)
            self.core.listener.report(f"Cannot use Kafka at {self.config.bootstrap}: {exc}")
        else:
            log.warning("kafka poll failed: %s", exc)
        self._ready.set()

    def _poll(self, clients: _Clients) -> None:
        clients.notices.poll(self._on_notice, timeout=NOTICE_WAIT_S)
        clients.network.poll(self._on_network, timeout=0)
        clients.central.poll(self._on_central, timeout=0)

    def _turn(self) -> None:
        """Every turn of the loop, Kafka or not: commands from the UI, the broker's state,
        refusals said once, the core's clock."""
        self._run_commands()
        core, clients, producer = self.core, self._clients, self._producer
        if producer is not None:
            producer.poll(0)
            if producer.broker_up != self._broker_up:
                self._broker_up = producer.broker_up
                core.on_broker(self._broker_up)
        if clients is not None:
            if not core.network_loaded and clients.network.caught_up:
                core.network_loaded = True
            for client in (producer, *clients):
                problem = getattr(client, "auth_problem", None)
                if problem and problem not in self._refused:  # credentials, ACLs: say it once
                    self._refused.add(problem)
                    core.listener.report(problem)
        try:
            core.tick()
        except Exception:
            log.exception("driver core tick failed")
        if clients is not None:
            self._ready.set()

    def _idle(self, seconds: float) -> None:
        """A wait of the loop (Kafka failing): the UI's commands and the core still run."""
        deadline = time.monotonic() + seconds
        while not self._stop.wait(min(IDLE_TICK_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            self._turn()

    def _run_commands(self) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(self.core))
            except Exception as exc:
                log.exception("driver command failed")
                future.set_exception(exc)

    def _on_notice(self, received: Received) -> None:
        notice = received.event
        if isinstance(notice, RawValue):
            assert self.config.key is not None
            opened = open_notice(notice.value, driver_id=self.config.driver_id, key=self.config.key)
            if opened is None:
                return
            notice = opened
        self.notice_keys.append(received.key)
        self.core.on_notice(notice)  # type: ignore[arg-type]

    def _on_network(self, event: object) -> None:
        if isinstance(event, CpState):
            self.core.on_cp_state(event)

    def _on_central(self, event: object) -> None:
        if isinstance(event, CentralAlive):
            self.core.on_central_alive(event)

    def _ensure_topics(self) -> None:
        """Create missing topics so the driver may start before Central; retried quietly."""
        while not self._stop.is_set():
            try:
                ensure_topics(
                    self.config.bootstrap,
                    self.config.topics,
                    timeout=5.0,
                    security=self.config.security,
                )
                return
            except WireError as exc:
                log.info("topics not ready yet: %s", exc)
            self._stop.wait(5.0)
