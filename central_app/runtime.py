"""``CentralRuntime``: Central's core wired to its threads — start and stop.

One owner: the ``central-core`` thread (:mod:`central_app.owner`) runs an event loop that owns
every CP machine, session, connection and request view (the :class:`~central_app.hub.Hub`).
It runs the monitors' TCP server (:mod:`central_app.monitor_port`, heartbeats answered
inline), the timers (:mod:`central_app.timers`) and the operator's commands
(:mod:`central_app.controls`, which this class is). Other threads never touch the hub; they
*post* work to the owner:

- ``central-kafka`` (the consumer) hands each batch to the owner
  (:mod:`central_app.kafka_input`) and waits until it was handled and its database writes
  are durable before the offsets are stored, so a database outage pauses consumption
  instead of losing or dead-lettering events;
- ``central-db`` (:class:`~central_app.db_writer.DbWriter`) runs every database job in
  order, retrying through outages; results come back to the owner as posted callbacks;
- ``central-lease`` keeps a pair's lease (:mod:`central_app.pair_role`);
- the GUI thread calls the ``CentralControls`` methods: commands are posted and return at
  once, queries (``snapshot``) run on the owner and return copies.
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import Future
from typing import Any

from central_app.authorization import AuthorizationPolicy
from central_app.billing import Billing
from central_app.config import CentralConfig, StartError
from central_app.controls import OperatorControls
from central_app.db import DatabaseError, open_database
from central_app.db_writer import DbWriter
from central_app.energy_check import EnergyCheck
from central_app.hub import Hub
from central_app.kafka_input import KafkaInput
from central_app.kafka_loop import KafkaLink
from central_app.ledger import Ledger
from central_app.monitor_port import MonitorPort
from central_app.monitors import MonitorDesk, machine_from
from central_app.notice_readback import NoticeId, ticket_notices
from central_app.pair_role import PairRole
from central_app.pulse import Pulse
from central_app.reconcile import window_start
from central_app.registry_refresh import RegistryRefresh
from central_app.reports import Reports
from central_app.store import CpRecord, OpenSession, RegistryError, Store
from central_app.supplies import SupplyDesk
from central_app.ticket_resend import TicketResend
from central_app.timers import Timers
from central_app.upkeep import Upkeep
from wire.errors import KafkaError
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

RESEND_TICKETS_MIN = 10  # the tickets a Central taking office sends again


class CentralRuntime(OperatorControls):
    def __init__(self, config: CentralConfig) -> None:
        super().__init__()
        self.config = config
        self.topics = Topics(config.topic_prefix)
        self.started_at = now_ts()
        self.kafka: KafkaLink | None = None
        self.tcp: MonitorPort | None = None
        self.pair = PairRole(config, self._stop)
        self.reports = Reports(self.owner, self.topics)
        self.upkeep: Upkeep | None = None
        self._timers: Future[None] | None = None
        self._recent_tickets: list[tuple[Any, str | None]] = []
        self.port = 0

    @property
    def stopping(self) -> bool:
        """``stop`` was called (the metrics stop reading the owner then)."""
        return self._stop.is_set()

    def start(self) -> None:
        cfg = self.config
        self.tcp = tcp = MonitorPort(cfg)
        if cfg.paired:
            # returns once this Central holds the pair's lock (port freed)
            self.pair.stand_by(tcp.tls, self.topics, self.started_at)
        # the port first, before the database is opened, seeded or loaded: a second Central
        # on a busy port fails at once and says nothing else
        tcp.bind()
        self.port = tcp.port
        try:
            self.db = open_database(cfg.db_url)
        except DatabaseError as exc:
            tcp.close_socket()
            raise StartError(str(exc)) from exc
        store = Store(self.db)
        leadership = self.pair.leadership
        if leadership is not None:
            epoch = leadership.take_office(self.db)
            leadership.fence(self.db)
            log.warning("%s is the active Central (epoch %d)", cfg.central_id, epoch)
        else:
            epoch = store.take_epoch(cfg.central_id)
        try:
            if cfg.seed is not None and store.is_empty():
                cps, drivers = store.seed(cfg.seed)
                log.info("seeded %d CPs and %d drivers from %s", cps, drivers, cfg.seed)
        except RegistryError as exc:
            tcp.close_socket()
            raise StartError(str(exc)) from exc
        self.writer = DbWriter(on_health=self.reports.db_health, on_fenced=self.pair.fenced)
        ledger = Ledger(store, self.writer, require_enrollment=cfg.enrollment)
        records, sessions = ledger.load()
        # sent again once in office, unless on the brokers already (central_app.ticket_resend):
        # the previous Central may have written them and stopped before their notices left
        # (found by evc-chaos: a ticket the driver never got)
        self._recent_tickets = store.recent_tickets(window_start(RESEND_TICKETS_MIN))
        try:
            # the group is namespaced like the topics, so test networks never rebalance each other
            self.kafka = KafkaLink(
                cfg.kafka,
                self.topics,
                group_id=f"{cfg.topic_prefix}central",
                on_problem=self.reports.kafka_problem,
                keys=ledger.key_for if cfg.sealed else None,
                on_refused=self.reports.refused,
                on_unsealable=self.reports.unsealable,
                security=cfg.kafka_security,
            )
        except KafkaError as exc:
            tcp.close_socket()
            raise StartError(f"bad Kafka address {cfg.kafka!r}: {exc}") from exc
        self.reports.kafka = self.kafka
        if leadership is not None:
            # before anything is sent (the loaded CPs' states, the tickets sent again): a
            # Central frozen while taking office, its lease gone, must not publish every CP
            # DISCONNECTED over the live active's states (evc-chaos, finding 11)
            self.kafka.gate = self.pair.holds
        self.kafka.sealer.take_office(epoch)  # command seq: epoch high, counter low
        self.owner.start()
        self.hub = hub = Hub(
            ledger,
            self.kafka,
            self.topics,
            close_connection=lambda conn: conn.close(),
            post=self.owner.post,
        )
        hub.sealed = cfg.sealed
        self.reports.hub = hub
        self.supplies = SupplyDesk(
            hub,
            policy=AuthorizationPolicy(authorization_ttl=cfg.authorization_ttl),
            billing=Billing(ledger, grace=cfg.ticket_grace),
            energy=EnergyCheck(default_rated_kw=cfg.rated_kw),
        )
        self.monitors = MonitorDesk(
            hub,
            self.supplies,
            default_price=cfg.default_price,
            heartbeat_timeout=cfg.heartbeat_timeout,
        )
        self.pulse = Pulse(
            cfg,
            hub=hub,
            kafka=self.kafka,
            writer=self.writer,
            db=self.db,
            pair=self.pair,
            started_at=self.started_at,
            port=self.port,
        )
        self.reports.links_changed = self.pulse.update_links
        self.upkeep = Upkeep(hub, self.writer, self.db, cfg.state_history_days)
        self.owner.call(self._build, records, sessions)
        # Thousands of long-lived objects (machines, connections, the ledger) would be walked
        # by every full collection, a pause of tens of ms in the heartbeats: freeze what is
        # loaded now and collect the young generations less often. Garbage first: what the
        # runtime before this one (a pair's Central changing role) and the standby phase left
        # would otherwise be frozen with the rest and never collected (found by evc-chaos).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        tcp.serve(self.owner, self.monitors)
        inputs = KafkaInput(self.owner, self.supplies, self.kafka, self.writer, self.pair)
        self.kafka.start(inputs.on_kafka)
        TicketResend(
            self._recent_tickets,
            read_back=self._read_back,
            post=self.owner.post,
            send=self.supplies.ends.resend_recent,
            mark=ledger.ticket_notified,
            stopped=self._stop,
            window_s=(RESEND_TICKETS_MIN + 5) * 60,  # a few minutes more: the senders' clocks
        ).start()
        timers = Timers(
            hub,
            self.monitors,
            self.supplies,
            pair=self.pair,
            port=tcp,
            pulse=self.pulse,
            registry=RegistryRefresh(hub, self.monitors),
            upkeep=self.upkeep,
            reconcile_every=cfg.reconcile_every,
        )
        self._timers = self.owner.run(timers.run())
        self.owner.call(
            hub.say,
            f"EV_Central listening on {cfg.host}:{self.port}"
            f"{' (all interfaces; --host ADDR restricts it)' if cfg.host in ('0.0.0.0', '::', '') else ''}"
            f"{' with TLS' if tcp.tls is not None else ' WITHOUT TLS (--insecure)'}; "
            f"Kafka {cfg.kafka}; database {self.db.safe_url()}; "
            f"up to {tcp.max_sessions} monitor sessions (open-files limit {tcp.open_files})",
        )

    def _build(self, records: list[CpRecord], sessions: list[OpenSession]) -> None:
        hub, supplies = self.hub, self.supplies
        assert hub is not None and supplies is not None
        for listener in self._pending_listeners:
            hub.add_listener(listener)
        for record in records:
            hub.cps[record.cp_id] = machine_from(record)
        supplies.restore(sessions)
        hub.say(
            f"loaded {len(hub.cps)} charging points; all DISCONNECTED until their monitors connect"
        )
        for cp in hub.cps.values():
            hub.cp_changed(cp)

    def _read_back(self, drivers: set[str], since_ms: int, timeout: float) -> set[NoticeId]:
        """The ticket notices to ``drivers`` on the brokers since ``since_ms``."""
        cfg = self.config
        assert self.hub is not None
        return ticket_notices(
            cfg.kafka,
            self.topics,
            drivers=drivers,
            since_ms=since_ms,
            timeout=timeout,
            keys=self.hub.ledger.key_for if cfg.sealed else None,
            security=cfg.kafka_security,
        )

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._timers is not None:
            self._timers.cancel()
        if self.tcp is not None:
            self.tcp.close(self.owner)
        if self.hub is not None and self.owner.running:
            try:  # before the writer drains: the state history must not show CPs up meanwhile
                self.owner.call(
                    self.hub.ledger.states.all_disconnected, "Central stopped", timeout=3
                )
            except Exception:
                log.warning("recording the CPs as disconnected failed", exc_info=True)
        if self.kafka is not None:
            self.kafka.stop()
        if self.writer is not None:
            self.writer.stop()
        self.owner.stop()
        if self.db is not None:
            self.db.dispose()
        self.pair.close()
        # start() froze everything it had loaded (gc.freeze): a deposed Central builds a new
        # runtime, and this one's cycles (the Kafka clients' handles and sockets among them)
        # must be collectable, or every change of role leaks them (found by evc-chaos)
        gc.unfreeze()
        gc.collect()
