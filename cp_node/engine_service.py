"""The engine process's adapters around ``EngineMachine``: ZeroMQ, Kafka, journal, clock.

Threads (all touch the machine only under ``self._lock``):

- *health*: the ``HealthResponder`` answers the monitor's HEALTH;
- *ticker*: every 100 ms meters, emits progress, expires authorizations, detects isolation,
  runs the autopilot, writes the journal every second and clears it once delivered;
- *kafka*: serves producer callbacks and, once the CP id is known, consumes only this CP's
  partition of ``evc.cp.commands`` (group ``engine-<cp_id>``).

The technician's actions (``plug``, ``unplug``, ``break_engine``, ``repair``,
``manual_request``) are called from the panel or the console and return a line to show.

Secure mode (the default; docs/security.md): the monitor hands over the CP's key with
``KEY#cp_id#key``, over a CURVE link when ``curve`` is given (EV_CP_E always gives it unless
``--insecure``): only a monitor whose key the engine holds gets a HEALTH or KEY through, and
once the CP id is known only that CP's monitor keys are let in. Until then the engine reads no command, accepts no supply and holds its
outgoing events (never sent unsealed). With the key it opens every command on its partition
(``cp_core.command_guard``: refused when unsealed, forged, for another CP or replayed; each
refusal is told to the technician and sent to Central as a sealed ``command_refused``) and
seals its events and manual requests with kid ``cp:<cp_id>``. ``insecure=True``: plain values.
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

from cp_core.command_guard import ReplayWindow, admit
from cp_core.journal import Journal
from cp_node.autopilot import Action, AutopilotPolicy
from cp_node.engine_state import EngineConfig, EngineMachine, Refused, Snapshot, ended_from_record
from wire.curve import CurveServer
from wire.errors import KafkaAuthError, KafkaError, WireError
from wire.health import HealthResponder
from wire.health_messages import Health, HealthKo, HealthOk, Key
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.loop import ConsumeLoop
from wire.kafka.messages import (
    CP_COMMANDS,
    CP_EVENTS,
    Authorize,
    ChargeRequest,
    Event,
    Resume,
    Stop,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import cp_kid, key_bytes, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.states import Origin
from wire.tally import Tally
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
    key_waiting: bool = False  # secure mode without the CP's key yet


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
        bind: str = "127.0.0.1",
        manual_driver: str = "TECH-1",
        insecure: bool = False,
        security: KafkaSecurity | None = None,
        curve: CurveServer | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.autopilot = autopilot
        self.journal_dir = Path(journal_dir)
        self.manual_driver = manual_driver
        self.machine = EngineMachine(config or EngineConfig())
        self.secure = not insecure
        self.machine.key_ready = not self.secure
        self._key: bytes | None = None  # the CP's key, in memory only (from the monitor)
        self._held: list[tuple[str, str, Event]] = []  # events waiting for the key
        self._window = ReplayWindow()  # loaded from the journal once the CP id is known
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
        self.security = security  # Kafka SASL_SSL (docs/security.md, layer 1); None: PLAINTEXT
        self.producer = EventProducer(bootstrap, client_id=f"engine-{port}", security=security)
        self.bind = bind
        self.curve = curve  # the monitor link's CURVE keys; None: plain ZeroMQ
        # the monitor's HEALTH checks answered, OK or KO (the health thread writes it; the
        # metrics read it, cp_node.metrics)
        self.checks = Tally("OK", "KO")
        # HealthError if the port is busy
        self.responder = HealthResponder(port, self._answer, host=bind, curve=curve)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        where = listening_on(self.bind, self.responder.port)
        if self.curve is not None:
            how = f"CURVE: monitors whose key is in {self.curve.keys.root}/<cp id>/"
        else:
            how = "plain ZeroMQ: anyone who reaches the port can talk to it"
        self.say(f"Engine listening for its monitor on {where}; {how}")
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
            if self._held:
                log.warning(
                    "%d events never sent: no key arrived (journal keeps a supply end)",
                    len(self._held),
                )
                left += len(self._held)
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
            if isinstance(event, SupplyStarted | SupplyProgress):
                # journal first: energy a reading has announced must survive a SIGKILL that
                # comes before the next periodic write
                self._write_journal(time.monotonic())
            try:
                self._send(self.topics.cp_events, cp_id or "", event)
            except KafkaError as exc:
                self.say(f"Kafka: cannot queue {event.TYPE}: {exc}")
            if isinstance(event, SupplyEnded):
                self._store({"status": "ended", "event": event.to_dict()})
                self._clear_journal_when_delivered = True
        self._drain_notes()

    def _send(self, topic: str, kafka_key: str, event: Event) -> None:
        """Produce ``event``: plain with ``insecure``; else sealed with the CP's key, or held
        until the key arrives (called with the lock held)."""
        if not self.secure:
            self.producer.send(topic, kafka_key, event)
        elif self._key is None or self.machine.cp_id is None:
            self._held.append((topic, kafka_key, event))
        else:
            bound_to = topic.removeprefix(self.topics.prefix)  # sealed values name the bare topic
            value = seal(event, key=self._key, kid=cp_kid(self.machine.cp_id), topic=bound_to)
            self.producer.send_raw(topic, kafka_key.encode(), value)

    def _send_held(self) -> None:
        held, self._held = self._held, []
        for index, (topic, kafka_key, event) in enumerate(held):
            try:
                self._send(topic, kafka_key, event)
            except KafkaError as exc:
                self._held = held[index:] + self._held  # keep order; tried again with the key
                self.say(f"Kafka: cannot queue {event.TYPE}: {exc}")
                return

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
        self.responder.pin(cp_id)  # CURVE: from now on only this CP's monitor keys get in
        self._journal = Journal(self.journal_dir, cp_id)
        if self.secure:
            self._window = ReplayWindow.from_record(self._journal.read_replay())
            self.say("Waiting for the key from the monitor: no supply until it arrives")
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
        if self.secure:
            self._window.remember(ended.session_id)
        self._publish([ended])

    # --- health (ZeroMQ thread) --------------------------------------------------------------

    def _answer(self, health: Health | Key) -> HealthOk | HealthKo:
        if isinstance(health, Key):
            return self._on_key(health)
        with self._lock:
            known = self.machine.cp_id
            reply, events = self.machine.on_health(time.monotonic(), health)
            if known is None and self.machine.cp_id is not None:
                self._drain_notes()
                self._on_cp_known(self.machine.cp_id)
            self._publish(events)
        self.checks.add("OK" if isinstance(reply, HealthOk) else "KO")
        return reply

    def _on_key(self, request: Key) -> HealthOk | HealthKo:
        """The monitor hands over the CP's key (after every reconnection, and on a change)."""
        with self._lock:
            cp_id = self.machine.cp_id
            if cp_id is None:
                return HealthKo(cp_id=request.cp_id, reason="no HEALTH yet")
            if request.cp_id != cp_id:
                return HealthKo(cp_id=request.cp_id, reason="cp id mismatch")
            try:
                key = key_bytes(request.key)
            except ValueError as exc:
                self.say(f"The monitor sent an unusable key ({exc})")
                return HealthKo(cp_id=cp_id, reason="bad key")
            if not self.secure:
                if self._key is None:
                    self.say("Key received but not used: running --insecure (plain values)")
                self._key = key
            elif key != self._key:
                first = self._key is None
                self._key = key
                self.machine.key_ready = True
                self.say(
                    "Key received from the monitor: sealed commands accepted"
                    if first
                    else "New key from the monitor (Central rotated it)"
                )
                self._send_held()
            # OK = key taken (KO only refuses the key; a fault is HEALTH's to report)
            return HealthOk(cp_id=cp_id, engine_state=self.machine.state)

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
                and not self._held
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
            ensure_topics(self.bootstrap, self.topics, timeout=3.0, security=self.security)
        except KafkaAuthError as exc:
            self.say(str(exc))
        except WireError as exc:
            log.warning("topics not verified: %s", exc)
        ConsumeLoop(
            open=self._open_consumer,
            # the consumer's poll is the loop's only wait and ends when a command arrives
            poll=lambda consumer: consumer.poll(self._on_command, timeout=0.2),
            stop=self._stop,
            between=lambda: self.producer.poll(0),
            on_ready=self._consumer_ready,
            on_closed=self._consumer_closed,
            on_problem=lambda stage, exc: log.warning("command consumer (%s): %s", stage, exc),
            reopen=False,  # librdkafka reconnects an assigned consumer by itself
            retry_s=1.0,
        ).run()

    def _open_consumer(self) -> EventConsumer | None:
        """The consumer of this CP's partition of commands; None until the CP id (and, secure,
        the key: a command read before it would be refused as forged) is known."""
        cp_id = self.machine.cp_id
        if cp_id is None or (self.secure and self._key is None):
            return None
        try:
            consumer = EventConsumer(
                self.bootstrap,
                group_id=f"{self.topics.prefix}engine-{cp_id}",  # ACLs: <prefix>engine-*
                # secure: values reach _on_command unparsed, to be opened and checked there
                codecs={self.topics.cp_commands: RawCodec() if self.secure else CP_COMMANDS},
                dead_letter_topic=self.topics.dead_letter,
                producer=self.producer,
                client_id=f"engine-{cp_id}",
                security=self.security,
            )
        except ValueError as exc:
            raise KafkaError(f"cannot open the command consumer: {exc}") from exc
        try:
            consumer.assign_key(
                self.topics.cp_commands, cp_id, self.topics.partitions_of(self.topics.cp_commands)
            )
        except (KafkaError, ValueError) as exc:
            consumer.close()
            raise KafkaError(f"cannot read the commands of {cp_id}: {exc}") from exc
        return consumer

    def _consumer_ready(self, consumer: EventConsumer) -> None:
        self._consumer = consumer
        self.say(f"Listening for Central's commands for {self.machine.cp_id}")

    def _consumer_closed(self) -> None:
        self._consumer = None

    def _on_command(self, received: Received) -> None:
        event = received.event
        now = time.monotonic()
        with self._lock:
            if isinstance(event, RawValue):
                opened = self._admit(event.value, received.offset)
                if opened is None:
                    return
                event = opened
            if getattr(event, "cp_id", None) != self.machine.cp_id:
                return
            if isinstance(event, Authorize):
                self._publish(self.machine.on_authorize(now, event))
            elif isinstance(event, Stop):
                self._publish(self.machine.on_stop(now, issued_at=event.ts))
            elif isinstance(event, Resume):
                self._publish(self.machine.on_resume(now, issued_at=event.ts))

    def _admit(self, value: bytes | None, offset: int) -> Event | None:
        """Open and check one command (secure mode, lock held): the command to obey, or None
        when it was refused (told to the technician and to Central)."""
        cp_id, key = self.machine.cp_id, self._key
        if cp_id is None or key is None:  # the consumer opens only once both are known
            return None
        admitted = admit(value, cp_id=cp_id, key=key, window=self._window, store=self._store_window)
        if isinstance(admitted, Event):
            return admitted
        log.warning("command at offset %d refused: %s", offset, admitted.reason)
        self.say(admitted.line)
        self._publish([admitted.event(cp_id, offset)])
        return None

    def _store_window(self, window: ReplayWindow) -> None:
        if self._journal is None:
            return
        try:
            self._journal.write_replay(window.to_record())
        except OSError as exc:
            self.say(f"Journal write failed ({exc}): a restart may not refuse a replay")

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
                origin=Origin.CP,
                ts=now_ts(),
            )
            try:
                self._send(self.topics.requests, cp_id, request)
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
            key_waiting = self.secure and self._key is None
        return EngineView(
            machine=snap,
            kafka_up=self.producer.broker_up,
            kafka_pending=self.producer.pending,
            health_port=self.responder.port,
            last_health_age=None if last is None else now - last,
            key_waiting=key_waiting,
        )


def listening_on(bind: str, port: int) -> str:
    """Where the HEALTH socket listens, in words; all interfaces is said as such (with how to
    restrict it), since a monitor anywhere on the network could then reach the engine."""
    if bind in ("*", "0.0.0.0", "::", ""):
        return f"port {port} (all interfaces; --bind ADDR restricts it)"
    return f"{bind}:{port}"
