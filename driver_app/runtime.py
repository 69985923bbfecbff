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

Kafka down: clients are created without a broker, requests are queued by the producer,
and the Central indicator says "Cannot reach CENTRAL (Kafka broker unreachable)". Nothing
here raises to the user; unexpected errors are logged and the loop goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from driver_app.core import DriverCore, DriverListener
from driver_app.driver_key import open_notice
from driver_app.history import TicketHistory
from driver_app.services import ServiceEntry
from wire.errors import WireError
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import (
    CENTRAL_STATUS,
    DRIVER_NOTICES,
    NETWORK_STATE,
    CentralAlive,
    ChargeRequest,
    CpState,
)
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import driver_kid, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.tail import TopicTail
from wire.kafka.topics import Topics

log = logging.getLogger(__name__)

#: the loop's longest wait for a notice, and so the longest a queued command waits
NOTICE_WAIT_S = 0.02

T = TypeVar("T")


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
        cfg = self.config
        topics = cfg.topics
        notices = network = central = None
        threading.Thread(target=self._ensure_topics, name="driver-topics", daemon=True).start()
        try:
            self._producer = EventProducer(
                cfg.bootstrap, client_id=cfg.group_id, security=cfg.security
            )
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
            notices.assign_key(
                topics.driver_notices, cfg.driver_id, topics.partitions_of(topics.driver_notices)
            )
            network = TopicTail(
                cfg.bootstrap,
                topics.network_state,
                topics.partitions_of(topics.network_state),
                NETWORK_STATE,
                from_beginning=True,
                client_id=cfg.group_id,
                security=cfg.security,
            )
            central = TopicTail(
                cfg.bootstrap,
                topics.central_status,
                topics.partitions_of(topics.central_status),
                CENTRAL_STATUS,
                from_beginning=False,
                client_id=cfg.group_id,
                security=cfg.security,
            )
        except WireError as exc:
            log.error("cannot set up Kafka clients: %s", exc)
            self.core.listener.report(f"Cannot use Kafka at {cfg.bootstrap}: {exc}")
            self._ready.set()
            self._idle_loop()
            return
        try:
            self._loop(notices, network, central)
        finally:
            for client in (notices, network, central):
                try:
                    client.close()
                except Exception:  # closing must not hide the reason we stopped
                    log.exception("closing a Kafka client")
            self._producer.close(timeout=3.0)

    def _loop(self, notices: EventConsumer, network: TopicTail, central: TopicTail) -> None:
        core = self.core
        broker_up = True
        failing = False
        refused: set[str] = set()
        while not self._stop.is_set():
            self._run_commands()
            try:
                notices.poll(self._on_notice, timeout=NOTICE_WAIT_S)
                network.poll(self._on_network, timeout=0)
                central.poll(self._on_central, timeout=0)
                assert self._producer is not None
                self._producer.poll(0)
                failing = False
            except WireError as exc:
                if not failing:
                    log.warning("kafka poll failed: %s", exc)
                failing = True
                self._stop.wait(0.2)
            if not core.network_loaded and network.caught_up:
                core.network_loaded = True
            up = self._producer.broker_up if self._producer is not None else False
            if up != broker_up:
                broker_up = up
                core.on_broker(up)
            for client in (self._producer, notices, network, central):
                problem = getattr(client, "auth_problem", None)
                if problem and problem not in refused:  # credentials or ACLs: say it once
                    refused.add(problem)
                    core.listener.report(problem)
            try:
                core.tick()
            except Exception:
                log.exception("driver core tick failed")
            self._ready.set()

    def _idle_loop(self) -> None:
        while not self._stop.is_set():
            self._run_commands()
            self.core.tick()
            self._stop.wait(0.1)

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
