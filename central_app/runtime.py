"""``CentralRuntime``: Central's core wired to its threads; implements ``CentralControls``.

One owner: the ``central-core`` thread runs an event loop (uvloop where available) that owns
every CP machine, session, connection and request view (the :class:`~central_app.hub.Hub`).
It runs the monitors' TCP server (heartbeats answered inline), the timers (watchdog,
expiries, fallback tickets, ``central_alive``, registry refresh) and the operator's
commands. Other threads never touch the hub; they *post* work to the owner:

- ``central-kafka`` (the consumer) hands each event to the owner and waits until it was
  handled and its database writes are durable before the offset is stored, so a database
  outage pauses consumption instead of losing or dead-lettering events;
- ``central-db`` (:class:`~central_app.db_writer.DbWriter`) runs every database job in
  order, retrying through outages; results come back to the owner as posted callbacks;
- the GUI thread calls the ``CentralControls`` methods: commands are posted and return at
  once, queries (``snapshot``) run on the owner and return copies.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.cp_state import CpMachine
from central_app.db import Database, DatabaseError, open_database
from central_app.db_writer import DbWriter
from central_app.energy_check import DEFAULT_RATED_KW, EnergyCheck
from central_app.engine_events import ForeignSession
from central_app.history import History
from central_app.hub import Hub
from central_app.kafka_loop import KafkaLink
from central_app.leadership import RENEW_S, Leadership, pair_capable
from central_app.ledger import Ledger
from central_app.monitor_handler import MonitorHandler
from central_app.monitors import MonitorDesk, machine_from
from central_app.pricing import DEFAULT_PRICE
from central_app.reconcile import Discrepancy, find_discrepancies, window_start
from central_app.sealing import Refusal
from central_app.standby import Standby
from central_app.state_log import DEFAULT_STATE_HISTORY_DAYS, Pruning, retention_cutoff
from central_app.store import (
    CP_ID,
    DEFAULT_SEED,
    CpRecord,
    OpenSession,
    RegistryError,
    Store,
)
from central_app.supplies import SupplyDesk
from central_app.unsent import NeverConnected
from central_app.views import (
    CentralListener,
    CpStatus,
    CpView,
    LinkStatus,
    LogLevel,
    RequestView,
)
from central_app.watchdog import Watchdog
from wire.aio import new_event_loop
from wire.errors import KafkaError, TlsConfigError
from wire.kafka.consumer import Handled, Received
from wire.kafka.messages import CentralAlive, ChargeRequest, Event, Resume, Stop
from wire.kafka.sealed import cp_kid
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.limits import raise_open_files_limit, safe_max_connections
from wire.tcp_messages import AdminState
from wire.tcp_server import FramedServer
from wire.timefmt import now_ts
from wire.tls import server_context

log = logging.getLogger(__name__)


def print_line(text: str) -> None:
    """A line for the operator on stdout (the pair's role changes, before the hub exists)."""
    print(f"EV_Central: {text}", flush=True)


TICK = 0.25
OWNER_CHUNK = 32  # Kafka events handled on the owner per hand-over
REFRESH_SECONDS = 5.0
CALL_TIMEOUT = 10.0
PRUNE_EVERY_S = 6 * 3600.0  # the state history's retention, applied this often
PRUNE_FIRST_S = 3600.0  # and first an hour after the start (not during its storm)
RECONCILE_WINDOW_MIN = 6 * 60  # the last hours of sessions, at each reconciliation
RESEND_TICKETS_MIN = 10  # the tickets a Central taking office sends again

T = TypeVar("T")


class _ChunkedRun:
    """One Kafka batch handled on the owner a chunk at a time, each chunk scheduling the next
    (``call_soon``: after the loop has served the sockets that are ready).

    The owner chains the chunks itself: a hand-over per chunk waited each time for the
    consumer thread to get the GIL back (up to the 5 ms switch interval while the owner is
    busy); at 10,000 CPs chaining took the heartbeats' p99 from 151 to 109 ms. A class, not a
    closure that schedules itself: such a closure is a reference cycle that kept every batch
    (thousands of events a second) alive until the cyclic collector ran, and its collections
    of ~20,000 objects stopped every thread for 10-70 ms (docs/performance.md).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[Received],
        handle: Callable[[list[Received]], list[tuple[Received, Exception]]],
    ) -> None:
        self._loop = loop
        self._batch = batch
        self._handle = handle
        self._failures: list[tuple[Received, Exception]] = []
        self.done: Future[list[tuple[Received, Exception]]] = Future()

    def step(self, start: int) -> None:
        try:
            self._failures.extend(self._handle(self._batch[start : start + OWNER_CHUNK]))
        except BaseException as exc:  # the handler catches per event; never hang here
            self.done.set_exception(exc)
            return
        if start + OWNER_CHUNK < len(self._batch):
            self._loop.call_soon(self.step, start + OWNER_CHUNK)
        else:
            self.done.set_result(self._failures)


class StartError(Exception):
    """Central cannot start (message is for users): port in use, bad database, ..."""


def default_central_id(port: int) -> str:
    """``central@HOST:PORT``: the two Centrals of a pair on one host differ by their port
    (by the process id when the port is chosen by the system, port 0)."""
    return f"central@{socket.gethostname()}:{port or f'pid{os.getpid()}'}"


@dataclass
class CentralConfig:
    port: int
    kafka: str
    db_url: str
    host: str = "0.0.0.0"
    topic_prefix: str = ""
    seed: Path | None = DEFAULT_SEED
    default_price: float = DEFAULT_PRICE
    # kW of a CP whose record has no rated power: no energy beyond it is billed
    rated_kw: float = DEFAULT_RATED_KW
    heartbeat_timeout: float = 3.0
    authorization_ttl: float = 30.0
    ticket_grace: float = 15.0
    stall_timeout: float = 5.0
    idle_timeout: float = 10.0
    # "" (the default): default_central_id(port), one per process even for a pair on one host
    central_id: str = ""
    # TLS on the monitor link (docs/security.md, layer 4): both files, or insecure=True.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    # Sealed Kafka values (docs/security.md, layers 2 and 3); None: sealed unless insecure.
    # (Tests set it to seal over a plaintext broker and TCP link.)
    seal_kafka: bool | None = None
    # Kafka SASL_SSL credentials (docs/security.md, layer 1); None: PLAINTEXT (--insecure).
    kafka_security: KafkaSecurity | None = None
    # Active/standby pair (central_app.leadership); None: whenever the database can decide
    # leadership (PostgreSQL, MariaDB/MySQL), so two Centrals on one database never both serve.
    pair: bool | None = None
    # s between two reconciliations of the books (central_app.reconcile)
    reconcile_every: float = 300.0
    # Days of cp_state_changes kept (central_app.state_log, "Retention"); 0: all of them.
    state_history_days: float = DEFAULT_STATE_HISTORY_DAYS
    # One-time enrollment tokens for REGISTER (docs/security.md); None: unless insecure.
    require_enrollment: bool | None = None

    def __post_init__(self) -> None:
        if not self.central_id:
            self.central_id = default_central_id(self.port)

    @property
    def enrollment(self) -> bool:
        return not self.insecure if self.require_enrollment is None else self.require_enrollment

    @property
    def paired(self) -> bool:
        return pair_capable(self.db_url) if self.pair is None else self.pair

    @property
    def sealed(self) -> bool:
        return not self.insecure if self.seal_kafka is None else self.seal_kafka


class CentralRuntime:
    def __init__(self, config: CentralConfig) -> None:
        self.config = config
        self.topics = Topics(config.topic_prefix)
        self.started_at = now_ts()
        self.db: Database | None = None
        self.hub: Hub | None = None
        self.kafka: KafkaLink | None = None
        self.writer: DbWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._core: threading.Thread | None = None
        self._server: FramedServer | None = None
        self._tls: ssl.SSLContext | None = None
        self._timers: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._pending_listeners: list[CentralListener] = []
        self._unsealable_said: dict[str, float] = {}
        self._never_connected = NeverConnected()
        self._discrepancies: set[tuple[str, str]] = set()  # reported once each
        self._recent_tickets: list[tuple[Any, str | None]] = []
        self._links: LinkStatus | None = None
        self._was_up = False
        self.open_files = 0
        self.port = 0
        # the pair (central_app.leadership): None for a lone Central on SQLite
        self.leadership: Leadership | None = None
        self.role = "active"
        self.deposed = threading.Event()  # lost the lock: the owner stopped serving
        self._abandon = threading.Event()  # stop waiting as standby

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        self._tls = self._tls_context()
        self.open_files = raise_open_files_limit()
        if cfg.paired:
            self._stand_by()  # returns once this Central holds the pair's lock (port freed)
        # the port first, before the database is opened, seeded or loaded: a second Central
        # on a busy port fails at once and says nothing else
        self._open_tcp_socket()
        try:
            self.db = open_database(cfg.db_url)
        except DatabaseError as exc:
            self._close_tcp_socket()
            raise StartError(str(exc)) from exc
        store = Store(self.db)
        if self.leadership is not None:
            epoch = self.leadership.take_office(self.db)
            self.leadership.fence(self.db)
            log.warning("%s is the active Central (epoch %d)", cfg.central_id, epoch)
        else:
            epoch = store.take_epoch(cfg.central_id)
        try:
            if cfg.seed is not None and store.is_empty():
                cps, drivers = store.seed(cfg.seed)
                log.info("seeded %d CPs and %d drivers from %s", cps, drivers, cfg.seed)
        except RegistryError as exc:
            self._close_tcp_socket()
            raise StartError(str(exc)) from exc
        self.writer = DbWriter(on_health=self._db_health)
        ledger = Ledger(store, self.writer, require_enrollment=cfg.enrollment)
        records, sessions = ledger.load()
        # sent again once in office: the previous Central may have written them and stopped
        # before their notices left (found by evc-chaos: a ticket the driver never got)
        self._recent_tickets = store.recent_tickets(window_start(RESEND_TICKETS_MIN))
        try:
            # the group is namespaced like the topics, so test networks never rebalance each other
            self.kafka = KafkaLink(
                cfg.kafka,
                self.topics,
                group_id=f"{cfg.topic_prefix}central",
                on_problem=self._kafka_problem,
                keys=ledger.key_for if cfg.sealed else None,
                on_refused=self._refused,
                on_unsealable=self._unsealable,
                security=cfg.kafka_security,
            )
        except KafkaError as exc:
            self._close_tcp_socket()
            raise StartError(f"bad Kafka address {cfg.kafka!r}: {exc}") from exc
        self.kafka.sealer.take_office(epoch)  # command seq: epoch high, counter low
        loop = new_event_loop()
        self._loop = loop
        self._core = threading.Thread(target=loop.run_forever, name="central-core", daemon=True)
        self._core.start()
        self.hub = Hub(
            ledger,
            self.kafka,
            self.topics,
            close_connection=lambda conn: conn.close(),
            post=self._post,
        )
        self.hub.sealed = cfg.sealed
        self.supplies = SupplyDesk(
            self.hub,
            policy=AuthorizationPolicy(authorization_ttl=cfg.authorization_ttl),
            billing=Billing(ledger, grace=cfg.ticket_grace),
            energy=EnergyCheck(default_rated_kw=cfg.rated_kw),
        )
        self.monitors = MonitorDesk(
            self.hub,
            self.supplies,
            default_price=cfg.default_price,
            heartbeat_timeout=cfg.heartbeat_timeout,
        )
        self.call(self._build, records, sessions)
        # Thousands of long-lived objects (machines, connections, the ledger) would be walked
        # by every full collection, a pause of tens of ms in the heartbeats: freeze what is
        # loaded now and collect the young generations less often. Garbage first: what the
        # runtime before this one (a pair's Central changing role) and the standby phase left
        # would otherwise be frozen with the rest and never collected (found by evc-chaos).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        self._start_tcp()
        if self.leadership is not None:
            leadership = self.leadership
            self.kafka.gate = lambda: leadership.holds(time.monotonic())
        self.kafka.start(self._on_kafka)
        self._timers = asyncio.run_coroutine_threadsafe(self._run_timers(), loop)  # type: ignore[assignment]
        self.call(
            self.hub.say,
            f"EV_Central listening on {cfg.host}:{self.port}"
            f"{' (all interfaces; --host ADDR restricts it)' if cfg.host in ('0.0.0.0', '::', '') else ''}"
            f"{' with TLS' if self._tls is not None else ' WITHOUT TLS (--insecure)'}; "
            f"Kafka {cfg.kafka}; database {self.db.safe_url()}; "
            f"up to {self._max_sessions()} monitor sessions (open-files limit {self.open_files})",
        )

    def _stand_by(self) -> None:
        """Wait as the standby of the pair until this Central holds its lock."""
        cfg = self.config
        self.leadership = Leadership(cfg.db_url, cfg.central_id)
        self.role = "standby"
        standby = Standby(
            host=cfg.host,
            port=cfg.port,
            tls=self._tls,
            kafka=cfg.kafka,
            topics=self.topics,
            security=cfg.kafka_security,
            central_id=cfg.central_id,
            started_at=self.started_at,
        )
        try:
            if not standby.wait(self.leadership, self._abandon, say=print_line):
                raise StartError("stopped while standby")
        except OSError as exc:
            raise StartError(f"cannot listen on {cfg.host}:{cfg.port} as standby: {exc}") from exc
        self.role = "active"
        print_line(f"{cfg.central_id}: took over as the active Central at {now_ts()}")
        threading.Thread(target=self._renew_lease, name="central-lease", daemon=True).start()

    def _renew_lease(self) -> None:
        """Keep the lock session alive (``leadership.RENEW_S``) until it is lost or we stop."""
        leadership = self.leadership
        assert leadership is not None
        while not self._stop.wait(RENEW_S) and not self.deposed.is_set():
            if not leadership.renew():
                return  # the owner's next tick steps down (``_check_leadership``)

    @property
    def stopping(self) -> bool:
        """``stop`` was called (the metrics stop reading the owner then)."""
        return self._stop.is_set()

    def abandon(self) -> None:
        """Stop waiting as standby (from a signal handler: only sets an event)."""
        self._abandon.set()

    def _check_leadership(self, now: float) -> None:
        """On the owner, every tick: without a fresh renewal, stop serving at once."""
        leadership = self.leadership
        if leadership is None or self.deposed.is_set() or leadership.holds(now):
            return
        hub = self.hub
        assert hub is not None
        self.deposed.set()  # from now on nothing is sent (the Kafka gate) or committed (fence)
        self.role = "standby"
        hub.say(
            "lost the leadership of the pair (no lease renewal): stepped down; what follows "
            "here is neither written nor sent",
            LogLevel.ERROR,
        )
        if self._server is not None:
            self._server.refusing = "this Central stepped down"
        # the monitors go to the new active now, not after their response timeout
        for cp_id in list(hub.connections):
            self.monitors.drop(cp_id, "Central stepped down")

    def _build(self, records: list[CpRecord], sessions: list[OpenSession]) -> None:
        hub = self.hub
        assert hub is not None
        for listener in self._pending_listeners:
            hub.add_listener(listener)
        for record in records:
            hub.cps[record.cp_id] = machine_from(record)
        self.supplies.restore(sessions)
        self.supplies.ends.resend_recent(self._recent_tickets)
        hub.say(
            f"loaded {len(hub.cps)} charging points; all DISCONNECTED until their monitors connect"
        )
        for cp in hub.cps.values():
            hub.cp_changed(cp)

    def _tls_context(self) -> ssl.SSLContext | None:
        cfg = self.config
        if cfg.insecure:
            return None
        if cfg.tls_cert is None or cfg.tls_key is None:
            raise StartError(
                "no TLS certificate and key for the monitor link (--tls-cert/--tls-key); "
                "create them with `evc-secrets init`, or run with --insecure for development"
            )
        try:
            return server_context(cfg.tls_cert, cfg.tls_key)
        except TlsConfigError as exc:
            raise StartError(
                f"{exc}; create the secrets with `evc-secrets init` (or `make run`), pass "
                "--tls-cert/--tls-key, or run with --insecure for development"
            ) from exc

    def _max_sessions(self) -> int:
        return safe_max_connections(self.open_files)

    def _open_tcp_socket(self) -> None:
        cfg = self.config
        try:
            sock = socket.create_server(
                (cfg.host, cfg.port),
                family=socket.AF_INET6 if ":" in cfg.host else socket.AF_INET,
                backlog=4096,
                reuse_port=False,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartError(
                    f"cannot listen on port {cfg.port}: {exc.strerror} — another program "
                    "(another EV_Central?) listens there; stop it or choose another --port"
                ) from exc
            if exc.errno == errno.EACCES:
                raise StartError(f"cannot listen on port {cfg.port}: {exc.strerror}") from exc
            raise StartError(f"cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self.port = sock.getsockname()[1]

    def _close_tcp_socket(self) -> None:
        sock, self._sock = getattr(self, "_sock", None), None
        if sock is not None:
            sock.close()

    def _start_tcp(self) -> None:
        assert self._loop is not None and self._sock is not None
        handler = MonitorHandler(self.monitors)
        cfg = self.config
        sock = self._sock

        async def make() -> FramedServer:
            server = FramedServer(
                handler,
                sock=sock,
                stall_timeout=cfg.stall_timeout,
                idle_timeout=cfg.idle_timeout,
                on_close=handler.on_close,
                max_connections=self._max_sessions(),
                # REGISTER waits for its database batch; EV_CP_M waits 10 s for an answer
                handler_timeout=8.0,
                ssl=self._tls,
            )
            await server.start()
            return server

        self._server = asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout=10)
        self._sock = None  # the server owns it now

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        loop = self._loop
        if self._timers is not None:
            self._timers.cancel()  # type: ignore[union-attr]
        if self._server is not None and loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._server.close(timeout=3), loop).result(
                    timeout=5
                )
            except Exception:
                log.exception("closing the TCP server")
        self._close_tcp_socket()
        if self.hub is not None and loop is not None and loop.is_running():
            try:  # before the writer drains: the state history must not show CPs up meanwhile
                self.call(self.hub.ledger.states.all_disconnected, "Central stopped", timeout=3)
            except Exception:
                log.warning("recording the CPs as disconnected failed", exc_info=True)
        if self.kafka is not None:
            self.kafka.stop()
        if self.writer is not None:
            self.writer.stop()
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._core is not None:
            self._core.join(timeout=5)
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()  # its epoll, eventfd and pipes: a pair's Central stops and starts again
        if self.db is not None:
            self.db.dispose()
        if self.leadership is not None:
            self.leadership.close()
        # start() froze everything it had loaded (gc.freeze): a deposed Central builds a new
        # runtime, and this one's cycles (the Kafka clients' handles and sockets among them)
        # must be collectable, or every change of role leaks them (found by evc-chaos)
        gc.unfreeze()
        gc.collect()

    # --- the owner ------------------------------------------------------------------------

    def _post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the owner soon (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._guarded, fn)
        except RuntimeError:  # the loop closed meanwhile: Central is stopping
            log.debug("posted work dropped: the core has stopped")

    @staticmethod
    def _guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("core step failed")

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = CALL_TIMEOUT) -> T:
        """Run ``fn(*args)`` on the owner and return its result (from any thread)."""
        if threading.current_thread() is self._core:
            return fn(*args)
        return self.submit(fn, *args).result(timeout)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Post ``fn(*args)`` to the owner and return at once: its result or exception
        arrives in the future (the GUI's commands must not wait for a busy owner)."""
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)

        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("Central's core is not running")
        loop.call_soon_threadsafe(run)
        return future

    # --- inputs ---------------------------------------------------------------------------

    def _on_kafka(self, batch: list[Received]) -> Handled:
        """Handle a batch of events on the owner (one hand-over per batch, not per event).

        Its offsets are stored only once the database writes it caused are durable (the
        writer's barrier), while the consumer goes on with the next batches; while the
        database is down those barriers never complete, and after ``MAX_UNDURABLE`` batches
        the consumer stops reading until it is back: nothing is dead-lettered or lost
        because of an outage. Heartbeats are served by the owner meanwhile.
        """
        dropped = self.kafka.dropped if self.kafka is not None else 0
        failures = self._in_chunks(batch)
        if not self._entitled(dropped):
            # Handled by a Central that was being deposed: what it answered was dropped (the
            # gate) and what it wrote is fenced, so the events are not done. Once the owner's
            # tick has stepped down, their offsets are never stored and the new active reads
            # them again (found by evc-chaos: a driver's request handled at the moment of a
            # step-down was never answered). A lease renewed late but in time goes on.
            self.deposed.wait(4 * TICK)
            if self.deposed.is_set():
                return Handled(failures, Future())
        writer = self.writer
        if writer is None or writer.backlog == 0:
            return Handled(failures)
        return Handled(failures, writer.barrier())

    def _entitled(self, dropped_before: int) -> bool:
        """Still the active Central, and nothing was dropped by the gate since ``dropped_before``."""
        if self.leadership is None:
            return True
        kafka = self.kafka
        if self.deposed.is_set() or not self.leadership.holds(time.monotonic()):
            return False
        return kafka is None or kafka.dropped == dropped_before

    def _in_chunks(self, batch: list[Received]) -> list[tuple[Received, Exception]]:
        """Handle ``batch`` on the owner in chunks of ``OWNER_CHUNK`` (:class:`_ChunkedRun`),
        so heartbeats are answered between chunks instead of after hundreds of events."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("Central's core is not running")
        run = _ChunkedRun(loop, batch, self._handle_events)
        loop.call_soon_threadsafe(run.step, 0)
        chunks = -(-len(batch) // OWNER_CHUNK)
        return run.done.result(CALL_TIMEOUT * max(1, chunks))

    def _handle_events(self, batch: list[Received]) -> list[tuple[Received, Exception]]:
        failures: list[tuple[Received, Exception]] = []
        for received in batch:
            try:
                if isinstance(received.event, ChargeRequest):
                    self.supplies.charge_request(received.event)
                else:
                    self.supplies.cp_event(received.event)
            except ForeignSession as exc:  # an insider's or a broken engine's: refused
                self._refuse_foreign(received, exc)
            except Exception as exc:  # a bug: this event is dead-lettered, the rest go on
                log.exception("handling %s failed", type(received.event).__name__)
                failures.append((received, exc))
        return failures

    def _refuse_foreign(self, received: Received, exc: ForeignSession) -> None:
        """A session event that named another CP's (or no) session: dead-lettered, audited
        and shown like a value that did not open (docs/security.md)."""
        refusal = Refusal(
            topic=received.topic,
            partition=received.partition,
            offset=received.offset,
            key=received.key,
            reason=str(exc),
            kid=cp_kid(exc.cp_id),
            action="forged_event",
        )
        if self.kafka is not None:
            self.kafka.refuse(received, received.event.to_json(), refusal)
        else:
            self._refused(refusal)

    def _db_health(self, ok: bool, detail: str) -> None:
        """From the writer thread: the database went down or came back."""

        def tell() -> None:
            assert self.hub is not None
            if ok:
                self.hub.say("database is back; queued writes done", source="database")
            else:
                self.hub.say(
                    f"database unavailable ({detail}); retrying, Kafka consumption paused",
                    LogLevel.ERROR,
                    "database",
                )
            self._update_links()

        self._post(tell)

    def _refused(self, refusal: Refusal) -> None:
        """From the consumer thread: a value was refused (and dead-lettered). Audited and
        shown on the owner; storms are folded in the messages (every one is audited)."""

        def tell() -> None:
            hub = self.hub
            assert hub is not None
            hub.counts.refused.add(refusal.action)
            hub.ledger.audit(refusal.kid, refusal.action, refusal.detail)
            topic = refusal.topic.removeprefix(self.topics.prefix)
            hub.tell(
                "refused Kafka values",
                f"refused a value on {topic} ({refusal.action.replace('_', ' ')}): "
                f"{refusal.reason}; dead-lettered",
                LogLevel.WARNING,
                refusal.kid if refusal.kid != "unknown" else "kafka",
            )

        self._post(tell)

    def _unsealable(self, topic: str, key: str, event: Event, why: str) -> None:
        """From the sender (the owner): a command or notice for a CP or driver without a key
        was not sent. Said and audited once a minute per CP or driver, not per event; a CP
        that never connected (seeded, never registered) is said once, with the others of
        the same command (``central_app.unsent``)."""
        ledger = self.hub.ledger if self.hub is not None else None
        if (
            topic == self.topics.cp_commands
            and ledger is not None
            and not ledger.can_authenticate(key)
            and not ledger.revoked(key)
        ):
            if self._never_connected.add(key, event.TYPE):
                self._post(self._say_never_connected)
            return
        kid = self.kafka.sealer.kid_for(topic, key) if self.kafka else None
        now = time.monotonic()
        if now - self._unsealable_said.get(kid or key, -1e9) < 60:
            return
        self._unsealable_said[kid or key] = now

        def tell() -> None:
            hub = self.hub
            assert hub is not None
            fix = f"evc-admin driver key {key}" if topic == self.topics.driver_notices else ""
            hub.ledger.audit(kid or key, "unsealable", f"{event.TYPE} not sent: {why}")
            hub.say(
                f"{event.TYPE} for {key} not sent: {why}"
                + (f" (issue one with `{fix}`)" if fix else " (the CP must register again)"),
                LogLevel.WARNING,
                key,
            )

        self._post(tell)

    def _say_never_connected(self) -> None:
        line = self._never_connected.line()
        if line is not None and self.hub is not None:
            self.hub.say(line)

    def _kafka_problem(self, text: str) -> None:
        if self.hub is not None:
            self._post(lambda: self.hub.say(text, LogLevel.WARNING, "kafka"))  # type: ignore[union-attr]

    # --- timers ---------------------------------------------------------------------------

    async def _run_timers(self) -> None:
        """Watchdog and expiries every ``TICK``; once a second the heartbeat of Central."""
        last_second = 0.0
        last_refresh = last_reconcile = time.monotonic()
        last_prune = last_refresh - PRUNE_EVERY_S + PRUNE_FIRST_S
        assert self.hub is not None
        watchdog = Watchdog(
            self.hub, self.monitors, self.supplies, period=TICK, started=last_refresh
        )
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            try:
                self._check_leadership(now)
                if self.deposed.is_set():
                    continue  # a deposed Central serves nothing and writes nothing
                watchdog.tick(now)  # leaves Central's own pauses out
                if now - last_second >= 1.0:
                    last_second = now
                    self._every_second()
                if now - last_refresh >= REFRESH_SECONDS:
                    last_refresh = now
                    self._refresh_registry()
                if now - last_reconcile >= self.config.reconcile_every:
                    last_reconcile = now
                    self._reconcile()
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    self._prune_state_history()
            except Exception:
                log.exception("timer step failed")

    def _prune_state_history(self) -> None:
        """Old state changes go (``--state-history-days``), on the writer, a chunk a job."""
        cutoff = retention_cutoff(self.config.state_history_days)
        if cutoff is None or self.writer is None or self.db is None:
            return
        done = Pruning(self.writer.submit, self.db, cutoff).start()
        done.add_done_callback(
            lambda f: (
                log.info("state history before %s pruned: %d rows", cutoff, f.result())
                if f.exception() is None
                else log.warning("pruning the state history failed: %s", f.exception())
            )
        )

    def _reconcile(self) -> None:
        """Do the books balance? (central_app.reconcile) Read on the writer's thread over the
        last hours; each new discrepancy is audited and shown once."""
        assert self.writer is not None and self.db is not None and self.hub is not None
        since = window_start(RECONCILE_WINDOW_MIN)
        found = self.writer.submit(find_discrepancies, self.db, since)

        def report(done: Future[list[Discrepancy]]) -> None:
            if done.exception() is not None:
                log.warning("reconciliation failed: %s", done.exception())
                return
            hub = self.hub
            assert hub is not None
            for d in done.result():
                if (d.session_id, d.kind) in self._discrepancies:
                    continue
                self._discrepancies.add((d.session_id, d.kind))
                hub.ledger.audit("central", "books_discrepancy", d.line())
                hub.tell("books discrepancies", d.line(), LogLevel.ERROR, d.cp_id)

        self.hub.after(found, report)

    def _every_second(self) -> None:
        assert self.hub is not None and self.kafka is not None
        self.hub.flush_tally()
        self.hub.flush_live()
        up = self.kafka.up
        if up:
            self.kafka.send(
                self.topics.central_status,
                "central",
                CentralAlive(
                    central_id=self.config.central_id,
                    started_at=self.started_at,
                    role="active" if self.leadership is not None else None,
                ),
            )
        if up and not self._was_up:
            self.hub.say(f"Kafka at {self.config.kafka} is up", source="kafka")
            self.hub.republish_all()
        elif self._was_up and not up:
            self.hub.say(
                f"Kafka at {self.config.kafka} is down; events are queued",
                LogLevel.WARNING,
                "kafka",
            )
        self._was_up = up
        self._update_links()

    def _update_links(self) -> None:
        assert self.hub is not None and self.kafka is not None and self.db is not None
        links = LinkStatus(
            kafka_up=self.kafka.up,
            database_ok=self.writer.healthy if self.writer else False,
            database_url=self.db.safe_url(),
            tcp_port=self.port,
            monitors_connected=sum(1 for cp in self.hub.cps.values() if cp.monitor_up),
            central_id=self.config.central_id if self.leadership is not None else "",
            role=self.role if self.leadership is not None else "",
        )
        if links != self._links:
            self._links = links
            self.hub.emit_links(links)

    def _refresh_registry(self) -> None:
        """Pick up CPs, drivers, prices and credentials changed with ``evc-admin``."""
        assert self.hub is not None
        generation = self.hub.ledger.generation
        self.hub.after(
            self.hub.ledger.read_registry(), lambda done: self._apply_registry(done, generation)
        )

    def _apply_registry(
        self,
        done: Future[tuple[int, list[CpRecord], dict[str, str | None]] | None],
        generation: int,
    ) -> None:
        hub = self.hub
        assert hub is not None
        if done.exception() is not None or done.result() is None:
            return  # the writer said so already / nothing changed
        mark, records, drivers = done.result()  # type: ignore[misc]
        ledger = hub.ledger
        keys_before = {cp_id: ledger.cp_key(cp_id) for cp_id in hub.connections}
        if not ledger.apply_registry(records, drivers, generation):
            return  # read before a change made here; the next refresh is current
        ledger.registry_mark = mark
        for cp_id, before in keys_before.items():
            # evc-admin revoked (or reset) the credential, or rotated the key: the live
            # connection goes; the monitor must REGISTER again, or AUTH for the new key.
            if not ledger.can_authenticate(cp_id):
                if self.monitors.drop(cp_id, "credential revoked by the administrator"):
                    hub.say(
                        "credential revoked by the administrator: connection closed",
                        LogLevel.WARNING,
                        cp_id,
                    )
            elif ledger.cp_key(cp_id) != before and self.monitors.drop(cp_id, "key rotated"):
                hub.say(
                    "key rotated by the administrator: connection closed, the monitor "
                    "gets the new key at its next AUTH",
                    source=cp_id,
                )
        for record in records:
            cp = hub.cps.get(record.cp_id)
            if cp is not None:
                cp.rated_kw = record.rated_kw
            if cp is None:
                cp = machine_from(record)
                hub.cps[cp.cp_id] = cp
                hub.tell(
                    "CPs added by the administrator", "added by the administrator", source=cp.cp_id
                )
                hub.cp_changed(cp)
            elif cp.price != record.price:
                cp.price = record.price
                hub.say(f"price is now {record.price:.2f} EUR/kWh", source=cp.cp_id)
                hub.cp_changed(cp)

    # --- CentralControls ------------------------------------------------------------------

    def snapshot(self) -> list[CpView]:
        return self.call(self.hub.snapshot) if self.hub else []

    def status_counts(self) -> Counter[CpStatus]:
        """How many CPs are in each status (the console's status line)."""
        if self.hub is None:
            return Counter()
        hub = self.hub
        return self.call(lambda: Counter(cp.status for cp in hub.cps.values()))

    def recent_requests(self) -> list[RequestView]:
        return self.call(self.hub.recent_requests) if self.hub else []

    def links(self) -> LinkStatus | None:
        return self._links

    def add_listener(self, listener: CentralListener) -> None:
        if self.hub is None:
            self._pending_listeners.append(listener)
        else:
            self.call(self.hub.add_listener, listener)

    def remove_listener(self, listener: CentralListener) -> None:
        if self.hub is not None and not self._stop.is_set():
            self.call(self.hub.remove_listener, listener)

    # Stop/Resume are posted to the owner and return at once with a future (done once applied
    # there: machines changed, commands queued for the engines), so the GUI thread never
    # waits for a busy owner; a later call (``snapshot``) runs after them, in order.

    def stop_cp(self, cp_id: str) -> Future[None]:
        return self.submit(self._set_admin, [cp_id], AdminState.STOPPED)

    def resume_cp(self, cp_id: str) -> Future[None]:
        return self.submit(self._set_admin, [cp_id], AdminState.ACTIVE)

    def stop_all(self) -> Future[None]:
        return self.submit(self._set_admin, None, AdminState.STOPPED)

    def resume_all(self) -> Future[None]:
        return self.submit(self._set_admin, None, AdminState.ACTIVE)

    def set_price(self, cp_id: str, price: float) -> Future[None]:
        """The operator's new price for a CP (audited): posted like Stop (applied on the owner,
        the row behind); new authorizations use it, a running supply keeps its price."""
        if not 0 < price < 100:
            raise ValueError(f"price must be between 0 and 100 EUR/kWh, got {price}")
        return self.submit(self._set_price, cp_id, price)

    def _set_price(self, cp_id: str, price: float) -> None:
        hub = self.hub
        assert hub is not None
        cp = hub.cps.get(cp_id)
        if cp is None:
            raise RegistryError(f"no charging point {cp_id}")
        if cp.price == price:
            return
        hub.ledger.set_price(cp_id, price, "operator")
        cp.price = price
        hub.say(f"price set to {price:.2f} EUR/kWh by the operator", source=cp_id)
        hub.cp_changed(cp)

    def history(self) -> History | None:
        """Read-only queries on this Central's database for the control center (they run on
        the caller's thread, never on the owner)."""
        return History(self.db) if self.db is not None else None

    def revoke_cp(self, cp_id: str) -> Future[None]:
        """Revoke the CP's credential and key (docs/security.md, layer 5); posted to the
        owner like Stop."""
        return self.submit(self.monitors.revoke, cp_id, "operator")

    def enroll_cp(self, cp_id: str, ttl_s: float) -> tuple[str, str]:
        """The operator's one-time enrollment token for ``cp_id`` (docs/security.md,
        "Enrollment"), written on the database writer's thread, never the owner's."""
        if not CP_ID.match(cp_id):
            raise RegistryError(f"not a charging point id: {cp_id!r}")
        if self.writer is None or self.db is None:
            raise RegistryError("Central is not running")
        store = Store(self.db)
        issued = self.writer.submit(store.issue_enrollment, cp_id, "operator", ttl_s)
        try:
            return issued.result(timeout=CALL_TIMEOUT)
        except FutureTimeout:
            raise RegistryError(
                f"the database did not answer within {CALL_TIMEOUT:.0f} s; try again"
            ) from None

    def _set_admin(self, cp_ids: list[str] | None, state: AdminState) -> None:
        """Stop/Resume on the owner: machines and engines at once, the row behind."""
        hub = self.hub
        assert hub is not None
        stopping = state is AdminState.STOPPED
        ids = list(hub.cps) if cp_ids is None else cp_ids
        targets: list[CpMachine] = [
            hub.cps[i] for i in ids if i in hub.cps and hub.cps[i].admin is not state
        ]
        if not targets:
            return
        hub.ledger.set_admin_state([cp.cp_id for cp in targets], state.value, "operator")
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
            hub.say(f"{'STOP' if stopping else 'RESUME'} ALL by the operator ({len(targets)} CPs)")
