"""The engine process's adapters around ``EngineMachine``: ZeroMQ, Kafka, journal, clock.

Threads (all touch the machine only under ``self._lock``):

- *health*: the ``HealthResponder`` answers the monitor's HEALTH;
- *ticker*: every 100 ms meters, emits progress, expires authorizations, detects isolation,
  runs the autopilot, writes the journal every second and clears it once delivered;
- *kafka*: serves producer callbacks and, once the CP id is known, consumes only this CP's
  partition of ``evc.cp.commands`` (group ``engine-<cp_id>``).

The technician's actions (``plug``, ``unplug``, ``break_engine``, ``repair``,
``manual_request``) are called from the panel or the console and return a line to show.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from cp_node.autopilot import Action, AutopilotPolicy
from cp_node.engine_state import EngineConfig, EngineMachine, Refused, Snapshot, ended_from_record
from cp_node.journal import Journal
from wire.errors import KafkaError, WireError
from wire.health import HealthResponder
from wire.health_messages import Health, HealthKo, HealthOk
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import (
    CP_COMMANDS,
    CP_EVENTS,
    Authorize,
    ChargeRequest,
    Event,
    Resume,
    Stop,
    SupplyEnded,
    SupplyStarted,
)
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

TICK = 0.1
JOURNAL_EVERY = 1.0


@dataclass(frozen=True)
class EngineView:
    """Everything the panel shows, taken in one go."""

    machine: Snapshot
    kafka_up: bool
    kafka_pending: int
    health_port: int
    last_health_age: float | None


class EngineService:
    def __init__(
        self,
        *,
        bootstrap: str,
        port: int,
        topics: Topics,
        config: EngineConfig | None = None,
        autopilot: AutopilotPolicy | None = None,
        journal_dir: str | Path = ".",
        bind: str = "*",
        manual_driver: str = "TECH-1",
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.autopilot = autopilot
        self.journal_dir = Path(journal_dir)
        self.manual_driver = manual_driver
        self.machine = EngineMachine(config or EngineConfig())
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._log: deque[str] = deque(maxlen=500)
        self._journal: Journal | None = None
        self._journal_written = 0.0
        self._clear_journal_when_delivered = False
        self._journal_failing = False
        self._kafka_up = True
        self._threads: list[threading.Thread] = []
        self._consumer: EventConsumer | None = None
        self.producer = EventProducer(bootstrap, client_id=f"engine-{port}")
        self.responder = HealthResponder(port, self._answer, host=bind)  # HealthError if busy

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.say(f"Engine listening for its monitor on port {self.responder.port}")
        for name, target in (
            ("health", self._serve_health),
            ("ticker", self._tick_loop),
            ("kafka", self._kafka_loop),
        ):
            thread = threading.Thread(target=target, name=f"engine-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the threads; a running supply ends (reason fault) and is flushed to Kafka."""
        with self._lock:
            if self.machine.supply is not None:
                self._publish(self.machine.set_fault(time.monotonic(), True, "engine shut down"))
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3.0)
        # with the broker down waiting is pointless: the journal keeps an unsent supply_ended
        left = self.producer.flush(3.0 if self.producer.broker_up else 0.5)
        with self._lock:
            if left == 0 and self._clear_journal_when_delivered and self._journal:
                self._journal.clear()
        self.producer.close(0.5 if left else 1.0)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- messages for the technician ---------------------------------------------------------

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._log.append(f"{stamp}  {text}")
        log.info("%s", text)

    def drain_log(self) -> list[str]:
        lines = []
        while self._log:
            lines.append(self._log.popleft())
        return lines

    def _drain_notes(self) -> None:
        for note in self.machine.drain_notes():
            self.say(note)

    # --- the core: publish what the machine decided -----------------------------------------

    def _publish(self, events: list[Event]) -> None:
        """Send events in order, journal supply boundaries; called with the lock held."""
        cp_id = self.machine.cp_id
        for event in events:
            if isinstance(event, SupplyStarted):
                self._write_journal(time.monotonic())
            try:
                self.producer.send(self.topics.cp_events, cp_id or "", event)
            except KafkaError as exc:
                self.say(f"Kafka: cannot queue {event.TYPE}: {exc}")
            if isinstance(event, SupplyEnded):
                self._store({"status": "ended", "event": event.to_dict()})
                self._clear_journal_when_delivered = True
        self._drain_notes()

    def _write_journal(self, now: float) -> None:
        record = self.machine.journal_record()
        if record is not None:
            self._store(record)
        self._journal_written = now

    def _store(self, record: dict) -> None:
        """Write the journal; a failure is told once (not every second) and never raised."""
        if self._journal is None:
            return
        try:
            self._journal.write(record)
        except OSError as exc:
            if not self._journal_failing:
                self.say(f"Journal write failed ({exc}): a crash now would lose this supply")
            self._journal_failing = True
            return
        if self._journal_failing:
            self.say("Journal writable again")
        self._journal_failing = False

    def _on_cp_known(self, cp_id: str) -> None:
        """First HEALTH: open the journal and report a supply a previous run left behind."""
        self._journal = Journal(self.journal_dir, cp_id)
        record = self._journal.read()
        if record is None:
            return
        try:
            if record["status"] == "running":
                ended = ended_from_record(record)
                self.say(
                    f"Journal: supply of driver {ended.driver_id} was interrupted by an engine "
                    f"restart; reporting {ended.kwh:.3f} kWh, {ended.eur:.2f} EUR"
                )
            else:
                ended = CP_EVENTS.parse(json.dumps(record["event"]))  # type: ignore[assignment]
                self.say("Journal: resending the last supply_ended (not confirmed delivered)")
        except (KeyError, TypeError, ValueError, WireError) as exc:
            self.say(f"Journal unreadable ({exc}); discarding it")
            self._journal.clear()
            return
        self._publish([ended])

    # --- health (ZeroMQ thread) --------------------------------------------------------------

    def _answer(self, health: Health) -> HealthOk | HealthKo:
        with self._lock:
            known = self.machine.cp_id
            reply, events = self.machine.on_health(time.monotonic(), health)
            if known is None and self.machine.cp_id is not None:
                self._drain_notes()
                self._on_cp_known(self.machine.cp_id)
            self._publish(events)
            return reply

    def _serve_health(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.responder.serve_once(100)
                except WireError as exc:
                    log.warning("health socket: %s", exc)
                    self._stop.wait(0.2)
        finally:
            self.responder.close()

    # --- ticker ------------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self._tick()
            except Exception:  # never let one bad tick kill metering
                log.exception("engine tick failed")

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._publish(self.machine.tick(now))
            if self.autopilot is not None:
                action = self.autopilot.decide(self.machine, now)
                try:
                    if action == Action.PLUG:
                        self.say("Autopilot: plugging the vehicle in")
                        self._publish(self.machine.plug(now))
                    elif action == Action.UNPLUG:
                        self.say("Autopilot: unplugging the vehicle")
                        self._publish(self.machine.unplug(now))
                except Refused as exc:
                    self.say(f"Autopilot: {exc}")
            if self.machine.supply is not None and now - self._journal_written >= JOURNAL_EVERY:
                self._write_journal(now)
            if (
                self._clear_journal_when_delivered
                and self.machine.supply is None
                and self.producer.pending == 0
                and self._journal is not None
            ):
                self._journal.clear()
                self._clear_journal_when_delivered = False
            up = self.producer.broker_up
            if up != self._kafka_up:
                self._kafka_up = up
                if up:
                    self.say("Kafka reachable again: queued events are being delivered")
                else:
                    self.say("Cannot reach Kafka: metering goes on, events are queued")

    # --- kafka -------------------------------------------------------------------------------

    def _kafka_loop(self) -> None:
        try:
            ensure_topics(self.bootstrap, self.topics, timeout=3.0)
        except WireError as exc:
            log.warning("topics not verified: %s", exc)
        try:
            while not self._stop.is_set():
                # no wait here: a command arriving meanwhile would wait for it too; the
                # consumer's poll below is the loop's only wait and ends when one arrives
                self.producer.poll(0)
                if self._consumer is None:
                    cp_id = self.machine.cp_id
                    if cp_id is None:
                        self._stop.wait(0.1)
                        continue
                    self._consumer = self._open_consumer(cp_id)
                    if self._consumer is None:
                        self._stop.wait(1.0)
                        continue
                try:
                    self._consumer.poll(self._on_command, timeout=0.2)
                except KafkaError as exc:
                    log.warning("command consumer: %s", exc)
                    self._stop.wait(0.5)
        finally:
            if self._consumer is not None:
                self._consumer.close()

    def _open_consumer(self, cp_id: str) -> EventConsumer | None:
        try:
            consumer = EventConsumer(
                self.bootstrap,
                group_id=f"engine-{cp_id}",
                codecs={self.topics.cp_commands: CP_COMMANDS},
                dead_letter_topic=self.topics.dead_letter,
                producer=self.producer,
                client_id=f"engine-{cp_id}",
            )
            consumer.assign_key(
                self.topics.cp_commands, cp_id, self.topics.partitions_of(self.topics.cp_commands)
            )
        except (KafkaError, ValueError) as exc:
            log.warning("cannot open the command consumer: %s", exc)
            return None
        self.say(f"Listening for Central's commands for {cp_id}")
        return consumer

    def _on_command(self, received: Received) -> None:
        event = received.event
        now = time.monotonic()
        with self._lock:
            if getattr(event, "cp_id", None) != self.machine.cp_id:
                return
            if isinstance(event, Authorize):
                self._publish(self.machine.on_authorize(now, event))
            elif isinstance(event, Stop):
                self._publish(self.machine.on_stop(now, issued_at=event.ts))
            elif isinstance(event, Resume):
                self._publish(self.machine.on_resume(now, issued_at=event.ts))

    # --- the technician ----------------------------------------------------------------------

    def _act(self, action: str) -> str:
        now = time.monotonic()
        with self._lock:
            try:
                if action == "plug":
                    self._publish(self.machine.plug(now))
                    return "Vehicle plugged in"
                if action == "unplug":
                    self._publish(self.machine.unplug(now))
                    return "Vehicle unplugged"
            except Refused as exc:
                self.say(str(exc))
                return str(exc)
            if action == "break":
                if self.machine.fault:
                    return "Already broken"
                self._publish(self.machine.set_fault(now, True, "fault injected by technician"))
                return "Engine broken (KO)"
            if action == "repair":
                if not self.machine.fault:
                    return "Engine is healthy"
                self._publish(self.machine.set_fault(now, False))
                return "Engine repaired (OK)"
        raise ValueError(action)

    def plug(self) -> str:
        return self._act("plug")

    def unplug(self) -> str:
        return self._act("unplug")

    def break_engine(self) -> str:
        return self._act("break")

    def repair(self) -> str:
        return self._act("repair")

    def manual_request(self, driver_id: str | None = None) -> str:
        driver = (driver_id or "").strip() or self.manual_driver
        with self._lock:
            try:
                if "#" in driver or any(ord(c) < 0x20 for c in driver):
                    raise Refused("Manual supply refused: invalid driver id")
                self.machine.check_manual_request()
            except Refused as exc:
                self.say(str(exc))
                return str(exc)
            cp_id = self.machine.cp_id or ""
            request = ChargeRequest(
                request_id=f"cp-{uuid.uuid4().hex[:12]}",
                driver_id=driver,
                cp_id=cp_id,
                origin="cp",
                ts=now_ts(),
            )
            try:
                self.producer.send(self.topics.requests, cp_id, request)
            except KafkaError as exc:
                text = f"Manual supply not sent: {exc}"
                self.say(text)
                return text
        text = f"Charge request sent for driver {driver}; waiting for Central"
        if not self.producer.broker_up:
            text += " (Kafka unreachable: queued)"
        self.say(text)
        return text

    # --- view --------------------------------------------------------------------------------

    def view(self) -> EngineView:
        now = time.monotonic()
        with self._lock:
            snap = self.machine.snapshot(now)
            last = self.machine.last_health
        return EngineView(
            machine=snap,
            kafka_up=self.producer.broker_up,
            kafka_pending=self.producer.pending,
            health_port=self.responder.port,
            last_health_age=None if last is None else now - last,
        )
