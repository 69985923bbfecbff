"""``CentralRuntime``: Central's core wired to its threads; implements ``CentralControls``.

Threads:
- ``central-tcp``: an asyncio loop running the ``FramedServer`` (monitors);
- a pool (``central-desk``) where monitor requests run against the core;
- ``central-kafka``: the consumer loop (``KafkaLink``);
- ``central-ticker``: watchdog, expiries, fallback tickets, ``central_alive`` every second,
  link status, registry refresh.
All shared state belongs to the hub and is guarded by its one lock.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError

from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.db import Database, DatabaseError, open_database
from central_app.hub import Hub
from central_app.kafka_loop import KafkaLink
from central_app.monitor_handler import MonitorHandler
from central_app.monitors import MonitorDesk, machine_from
from central_app.store import DEFAULT_SEED, RegistryError, Store
from central_app.supplies import SupplyDesk
from central_app.views import CentralListener, CpView, LinkStatus, LogLevel, RequestView
from wire.errors import KafkaError
from wire.kafka.consumer import Received
from wire.kafka.messages import CentralAlive, ChargeRequest, Resume, Stop
from wire.kafka.topics import Topics
from wire.tcp_messages import AdminState
from wire.tcp_server import FramedServer
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

TICK = 0.2
DB_RETRY_SECONDS = 60.0


class StartError(Exception):
    """Central cannot start (message is for users): port in use, bad database, ..."""


@dataclass
class CentralConfig:
    port: int
    kafka: str
    db_url: str
    host: str = "0.0.0.0"
    topic_prefix: str = ""
    seed: Path | None = DEFAULT_SEED
    default_price: float = 0.35
    heartbeat_timeout: float = 3.0
    authorization_ttl: float = 30.0
    ticket_grace: float = 15.0
    stall_timeout: float = 5.0
    idle_timeout: float = 10.0
    central_id: str = field(default_factory=lambda: f"central@{socket.gethostname()}")


class CentralRuntime:
    def __init__(self, config: CentralConfig) -> None:
        self.config = config
        self.topics = Topics(config.topic_prefix)
        self.started_at = now_ts()
        self.db: Database | None = None
        self.hub: Hub | None = None
        self.kafka: KafkaLink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: FramedServer | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="central-desk")
        self._slow_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="central-auth")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending_listeners: list[CentralListener] = []
        self._links: LinkStatus | None = None
        self._db_ok = True
        self.port = 0

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        try:
            self.db = open_database(cfg.db_url)
        except DatabaseError as exc:
            raise StartError(str(exc)) from exc
        store = Store(self.db)
        try:
            if cfg.seed is not None and store.is_empty():
                cps, drivers = store.seed(cfg.seed)
                log.info("seeded %d CPs and %d drivers from %s", cps, drivers, cfg.seed)
        except RegistryError as exc:
            raise StartError(str(exc)) from exc
        try:
            # the group is namespaced like the topics, so test networks never rebalance each other
            self.kafka = KafkaLink(
                cfg.kafka,
                self.topics,
                group_id=f"{cfg.topic_prefix}central",
                on_problem=self._kafka_problem,
            )
        except KafkaError as exc:
            raise StartError(f"bad Kafka address {cfg.kafka!r}: {exc}") from exc
        hub = Hub(store, self.kafka, self.topics, close_connection=self._close_connection)
        self.hub = hub
        for listener in self._pending_listeners:
            hub.add_listener(listener)
        self.supplies = SupplyDesk(
            hub,
            policy=AuthorizationPolicy(authorization_ttl=cfg.authorization_ttl),
            billing=Billing(store, grace=cfg.ticket_grace),
        )
        self.monitors = MonitorDesk(
            hub,
            self.supplies,
            default_price=cfg.default_price,
            heartbeat_timeout=cfg.heartbeat_timeout,
        )
        with hub.lock:
            for record in store.load_cps():
                hub.cps[record.cp_id] = machine_from(record)
            self.supplies.restore(store.open_sessions())
            hub.say(
                f"loaded {len(hub.cps)} charging points; all DISCONNECTED until their monitors connect"
            )
            for cp in hub.cps.values():
                hub.cp_changed(cp)
        self._start_tcp()
        self.kafka.start(self._on_kafka)
        ticker = threading.Thread(target=self._tick_loop, name="central-ticker", daemon=True)
        ticker.start()
        self._threads.append(ticker)
        hub.say(
            f"EV_Central listening on port {self.port}; Kafka {cfg.kafka}; database {self.db.safe_url()}"
        )

    def _start_tcp(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        thread = threading.Thread(target=loop.run_forever, name="central-tcp", daemon=True)
        thread.start()
        self._threads.append(thread)
        assert self.hub is not None
        handler = MonitorHandler(self.monitors, self._executor, self._slow_executor)
        cfg = self.config

        async def make() -> tuple[FramedServer, int]:
            server = FramedServer(
                handler,
                host=cfg.host,
                port=cfg.port,
                stall_timeout=cfg.stall_timeout,
                idle_timeout=cfg.idle_timeout,
                on_close=handler.on_close,
            )
            return server, await server.start()

        try:
            self._server, self.port = asyncio.run_coroutine_threadsafe(make(), loop).result(
                timeout=10
            )
        except OSError as exc:
            self._stop_loop()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise StartError(f"cannot listen on port {cfg.port}: {exc.strerror}") from exc
            raise StartError(f"cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc

    def _stop_loop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._server is not None and self._loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._server.close(timeout=3), self._loop).result(
                    timeout=5
                )
            except Exception:
                log.exception("closing the TCP server")
        self._stop_loop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._slow_executor.shutdown(wait=True, cancel_futures=True)
        if self.kafka is not None:
            self.kafka.stop()
        if self.db is not None:
            self.db.dispose()

    def _close_connection(self, conn: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(conn.close)  # type: ignore[attr-defined]

    # --- inputs ---------------------------------------------------------------------------

    def _on_kafka(self, received: Received) -> None:
        """Handle one event; a database outage stalls the consumer instead of losing events.

        The consumer dead-letters (and commits) an event whose handler raised, which must not
        happen to a ``supply_ended`` because SQLite was busy or a DB server restarted: retry
        for up to ``DB_RETRY_SECONDS`` first.
        """
        assert self.hub is not None
        deadline = time.monotonic() + DB_RETRY_SECONDS
        delay = 0.1
        while True:
            try:
                with self.hub.lock:
                    if isinstance(received.event, ChargeRequest):
                        self.supplies.charge_request(received.event)
                    else:
                        self.supplies.cp_event(received.event)
                if not self._db_ok:
                    self._db_ok = True
                    self.hub.say("database is back", source="database")
                return
            except OperationalError as exc:
                if self._db_ok:
                    self._db_ok = False
                    self.hub.say(
                        f"database unavailable, retrying: {exc}", LogLevel.ERROR, "database"
                    )
                if time.monotonic() > deadline or self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 2.0)

    def _kafka_problem(self, text: str) -> None:
        if self.hub is not None:
            self.hub.say(text, LogLevel.WARNING, "kafka")

    def _tick_loop(self) -> None:
        assert self.hub is not None and self.kafka is not None
        last_second = 0.0
        last_refresh = time.monotonic()
        was_up = False
        while not self._stop.wait(TICK):
            now = time.monotonic()
            try:
                self.monitors.watchdog(now)
                with self.hub.lock:
                    self.supplies.tick(now)
                if now - last_second >= 1.0:
                    last_second = now
                    up = self.kafka.up
                    if up:
                        self.kafka.send(
                            self.topics.central_status,
                            "central",
                            CentralAlive(
                                central_id=self.config.central_id, started_at=self.started_at
                            ),
                        )
                    if up and not was_up:
                        self.hub.say(f"Kafka at {self.config.kafka} is up", source="kafka")
                        self.hub.republish_all()
                    elif was_up and not up:
                        self.hub.say(
                            f"Kafka at {self.config.kafka} is down; events are queued",
                            LogLevel.WARNING,
                            "kafka",
                        )
                    was_up = up
                    self._update_links()
                if now - last_refresh >= 5.0:
                    last_refresh = now
                    self._refresh_registry()
            except Exception:
                log.exception("ticker step failed")

    def _update_links(self) -> None:
        assert self.hub is not None and self.kafka is not None and self.db is not None
        links = LinkStatus(
            kafka_up=self.kafka.up,
            database_ok=self._db_ok,
            database_url=self.db.safe_url(),
            tcp_port=self.port,
            monitors_connected=self._monitors_up(),
        )
        if links != self._links:
            self._links = links
            self.hub.emit_links(links)

    def _monitors_up(self) -> int:
        assert self.hub is not None
        with self.hub.lock:
            return sum(1 for cp in self.hub.cps.values() if cp.monitor_up)

    def _refresh_registry(self) -> None:
        """Pick up CPs added and prices changed with ``evc-admin`` while Central runs."""
        assert self.hub is not None and self.db is not None
        try:
            records = self.hub.store.load_cps()
            self._db_ok = True
        except Exception as exc:
            if self._db_ok:
                self.hub.say(f"database problem: {exc}", LogLevel.ERROR, "database")
            self._db_ok = False
            return
        with self.hub.lock:
            for record in records:
                cp = self.hub.cps.get(record.cp_id)
                if cp is None:
                    cp = machine_from(record)
                    self.hub.cps[cp.cp_id] = cp
                    self.hub.say("added by the administrator", source=cp.cp_id)
                    self.hub.cp_changed(cp)
                elif cp.price != record.price:
                    cp.price = record.price
                    self.hub.say(f"price is now {record.price:.2f} EUR/kWh", source=cp.cp_id)
                    self.hub.cp_changed(cp)

    # --- CentralControls ------------------------------------------------------------------

    def snapshot(self) -> list[CpView]:
        return self.hub.snapshot() if self.hub else []

    def recent_requests(self) -> list[RequestView]:
        return self.hub.recent_requests() if self.hub else []

    def links(self) -> LinkStatus | None:
        return self._links

    def add_listener(self, listener: CentralListener) -> None:
        if self.hub is None:
            self._pending_listeners.append(listener)
        else:
            self.hub.add_listener(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        if self.hub is not None:
            self.hub.remove_listener(listener)

    def stop_cp(self, cp_id: str) -> None:
        self._set_admin([cp_id], AdminState.STOPPED)

    def resume_cp(self, cp_id: str) -> None:
        self._set_admin([cp_id], AdminState.ACTIVE)

    def stop_all(self) -> None:
        self._set_admin(None, AdminState.STOPPED)

    def resume_all(self) -> None:
        self._set_admin(None, AdminState.ACTIVE)

    def _set_admin(self, cp_ids: list[str] | None, state: AdminState) -> None:
        """Stop/Resume: store it (one transaction), tell the engines, apply to the machines.
        Returns quickly enough to be called from the GUI thread."""
        hub = self.hub
        if hub is None:
            return
        stopping = state is AdminState.STOPPED
        with hub.lock:
            ids = list(hub.cps) if cp_ids is None else cp_ids
            targets = [hub.cps[i] for i in ids if i in hub.cps and hub.cps[i].admin is not state]
            if not targets:
                return
            hub.store.set_admin_state([cp.cp_id for cp in targets], state.value, "operator")
            for cp in targets:
                transition = cp.stop() if stopping else cp.resume()
                hub.command(cp.cp_id, Stop(cp_id=cp.cp_id) if stopping else Resume(cp_id=cp.cp_id))
                self.supplies.apply(cp, transition)
                if cp_ids is not None:
                    hub.say(
                        "STOP by the operator" if stopping else "RESUME by the operator",
                        source=cp.cp_id,
                    )
                hub.cp_changed(cp)
            if cp_ids is None:
                hub.say(
                    f"{'STOP' if stopping else 'RESUME'} ALL by the operator ({len(targets)} CPs)"
                )
