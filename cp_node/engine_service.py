"""The engine process's adapters around ``EngineMachine``: ZeroMQ, Kafka, journal, clock.

One owner (after the driver and Central; ``cp_node.owner``): the machine, the replay window,
the CP's key, the held events and the journal's bookkeeping belong to the *owner* thread, which
takes jobs from its inbox one at a time and ticks every 100 ms. Nothing else touches them; the
other threads post a job and, when they need an answer, wait on its future with a deadline:

- *health* (ZeroMQ REP): posts each HEALTH/KEY and waits ``HEALTH_WAIT`` (half the monitor's
  500 ms); if the owner is late, HEALTH is answered from the last published snapshot (KO with
  the fault, else OK with the state) and the posted job still runs — so a HEALTH is never
  late because of the journal or a busy owner;
- *kafka*: serves producer callbacks and, once the CP id (and, secure, the key) is known,
  consumes only this CP's partition of ``evc.cp.commands`` (group ``engine-<cp_id>``); each
  command is posted and waited for until it took effect, and only then is its offset stored;
- *journal* (``cp_node.journal_lane``): the owner decides, the lane does the I/O — journal
  writes with their fsyncs, the replay window, and every ``produce``, in the order posted;
- the panel, the console and the metrics read ``view()`` — the snapshot the owner publishes
  after every job and tick — and call the technician's actions (``plug``, ``unplug``,
  ``break_engine``, ``repair``, ``manual_request``), which run on the owner and return a line.

The owner itself does no disk or network I/O (reading the journal once, when the CP id
becomes known, aside), so a slow fsync delays only the lane: events and the effect of a
command, never HEALTH.

**Commands: seen before obeyed (at most once across a crash).** A sealed command is admitted
on the owner (``cp_core.command_guard.admit``: opened, checked against the replay window and
accepted into it in memory, so a redelivery is refused from that moment); the window is then
posted to the lane, and the command takes effect only once the lane reports the window
durable (or its write failed, which is said). Its Kafka offset is stored only after it took
effect. So after a crash at any point a command is either not in the durable window — its
offset was not stored either, Kafka delivers it again and it is obeyed once — or in it, and
a redelivery is refused: it never takes effect twice. (A crash between the window and the
effect loses that one command; an authorization then expires at Central, a stop/resume is
carried by HEALTH's admin state.) Commands take effect in the order they were admitted: the
lane runs jobs in order.

**Events: journal first.** A ``supply_started``/``supply_progress`` is posted to the lane
after the journal record that covers it, so it leaves only once that record is durable; a
``supply_ended`` is followed by the "ended" record, cleared once the producer and the lane
have nothing left.

Secure mode (the default; docs/security.md): the monitor hands over the CP's key with
``KEY#cp_id#key``, over a CURVE link when ``curve`` is given (EV_CP_E always gives it unless
``--insecure``): only a monitor whose key the engine holds gets a HEALTH or KEY through, and
once the CP id is known only that CP's monitor keys are let in. Until then the engine reads
no command, accepts no supply and holds its outgoing events (never sent unsealed). With the
key it opens every command on its partition (refused when unsealed, forged, for another CP or
replayed; each refusal is told to the technician and sent to Central as a sealed
``command_refused``) and seals its events and manual requests with kid ``cp:<cp_id>``.
``insecure=True``: plain values.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cp_core.command_guard import Refusal, ReplayWindow, admit
from cp_core.journal import Journal
from cp_node.autopilot import Action, AutopilotPolicy
from cp_node.engine_state import EngineConfig, EngineMachine, Refused, Snapshot, ended_from_record
from cp_node.journal_lane import JournalLane
from cp_node.owner import Owner
from wire.curve import CurveServer
from wire.errors import KafkaAuthError, KafkaError, WireError
from wire.health import HealthResponder
from wire.health_messages import Health, HealthKo, HealthOk, Key
from wire.kafka.admin import ensure_topics
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.loop import ConsumeLoop
from wire.kafka.messages import (
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
from wire.kafka.raw import RawValue, command_consumer
from wire.kafka.sealed import cp_kid, key_bytes, seal
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.states import Origin
from wire.tally import Tally
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

T = TypeVar("T")

TICK = 0.1
JOURNAL_EVERY = 1.0
HEALTH_WAIT = 0.25  # s a HEALTH waits for the owner (the monitor gives up after 0.5 s)
ACTION_WAIT = 2.0  # s a technician's action waits for the owner
COMMAND_WAIT = 30.0  # s the consumer waits for a command to take effect before reading on
BUSY = "The engine is busy; try again"


@dataclass(frozen=True)
class EngineView:
    """Everything the panel shows, taken in one go."""

    machine: Snapshot
    kafka_up: bool
    kafka_pending: int
    health_port: int
    last_health_age: float | None
    key_waiting: bool = False  # secure mode without the CP's key yet


@dataclass(frozen=True)
class _Published:
    """What the owner publishes after every job: the views' and a late HEALTH's source."""

    machine: Snapshot
    last_health: float | None
    key_waiting: bool
    fault_reason: str


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
        # --- owned by the owner thread (see the module docstring) ---
        self.machine = EngineMachine(config or EngineConfig())
        self.secure = not insecure
        self.machine.key_ready = not self.secure
        self._key: bytes | None = None  # the CP's key, in memory only (from the monitor)
        self._held: list[tuple[str, str, Event]] = []  # events waiting for the key
        self._window = ReplayWindow()  # loaded from the journal once the CP id is known
        self._journal: Journal | None = None
        self._journal_written = 0.0
        self._clear_journal_when_delivered = False
        self._kafka_up = True
        # --- shared, thread-safe ---
        self._owner = Owner(name="engine-owner", period=TICK, tick=self._tick, after=self._after)
        self._stop = threading.Event()
        self._kafka_stop = threading.Event()  # set first on close (see close)
        self._log: deque[str] = deque(maxlen=500)
        self._lane = JournalLane(self.say)
        self._published = self._snapshot(time.monotonic())
        self._threads: list[threading.Thread] = []
        self._consumer: EventConsumer | None = None  # the kafka thread's
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
        self._lane.start()
        self._owner.start()
        for name, target in (("health", self._serve_health), ("kafka", self._kafka_loop)):
            thread = threading.Thread(target=target, name=f"engine-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the threads; a running supply ends (reason fault) and is flushed to Kafka."""
        try:
            self._call(self._shut_down_supply, timeout=3.0)
        except FutureTimeout:
            log.warning("the owner did not end the supply in time")
        # the consumer first, while the owner and the lane still run: a command it is waiting
        # for takes effect before its offset is committed (never committed and left undone)
        self._kafka_stop.set()
        for thread in self._threads:
            if thread.name == "engine-kafka":
                thread.join(timeout=COMMAND_WAIT)
        self._stop.set()
        self._owner.stop(3.0)
        for thread in self._threads:
            thread.join(timeout=3.0)
        # the owner has stopped: from here this thread is the only one touching its state
        lane_done = self._lane.close(3.0)
        # with the broker down waiting is pointless: the journal keeps an unsent supply_ended
        left = self.producer.flush(3.0 if self.producer.broker_up else 0.5)
        if self._held:
            log.warning(
                "%d events never sent: no key arrived (journal keeps a supply end)",
                len(self._held),
            )
            left += len(self._held)
        if lane_done and left == 0 and self._clear_journal_when_delivered and self._journal:
            self._journal.clear()
        self.producer.close(0.5 if left else 1.0)

    def _shut_down_supply(self) -> None:
        if self.machine.supply is not None:
            self._publish(self.machine.set_fault(time.monotonic(), True, "engine shut down"))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- the owner ----------------------------------------------------------------------------

    def _post(self, fn: Callable[[], T]) -> Future[T]:
        return self._owner.post(fn)

    def _call(self, fn: Callable[[], T], timeout: float) -> T:
        return self._owner.call(fn, timeout)

    def _after(self, now: float) -> None:
        self._published = self._snapshot(now)

    def _snapshot(self, now: float) -> _Published:
        return _Published(
            machine=self.machine.snapshot(now),
            last_health=self.machine.last_health,
            key_waiting=self.secure and self._key is None,
            fault_reason=self.machine.fault_reason,
        )

    # --- messages for the technician ---------------------------------------------------------

    def say(self, text: str) -> None:
        """Add a line to the technician's messages (any thread)."""
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

    # --- publish what the machine decided (owner) --------------------------------------------

    def _publish(self, events: list[Event]) -> None:
        """Send events in order through the lane, journal supply boundaries first."""
        cp_id = self.machine.cp_id
        for event in events:
            if isinstance(event, SupplyStarted | SupplyProgress):
                # journal first: energy a reading has announced must survive a SIGKILL that
                # comes before the next periodic write (the lane sends it after the write)
                self._write_journal(time.monotonic())
            self._send(self.topics.cp_events, cp_id or "", event)
            if isinstance(event, SupplyEnded):
                self._store({"status": "ended", "event": event.to_dict()})
                self._clear_journal_when_delivered = True
        self._drain_notes()

    def _send(self, topic: str, kafka_key: str, event: Event) -> None:
        """Produce ``event`` (through the lane): plain with ``insecure``; else sealed with the
        CP's key, or held until the key arrives."""
        if not self.secure:
            value = event.to_json()
        elif self._key is None or self.machine.cp_id is None:
            self._held.append((topic, kafka_key, event))
            return
        else:
            bound_to = topic.removeprefix(self.topics.prefix)  # sealed values name the bare topic
            value = seal(event, key=self._key, kid=cp_kid(self.machine.cp_id), topic=bound_to)
        self._lane.call(lambda: self._produce(topic, kafka_key, event.TYPE, value))

    def _produce(self, topic: str, kafka_key: str, kind: str, value: bytes) -> None:
        """On the lane: queue one value in the producer (may wait when its queue is full)."""
        try:
            self.producer.send_raw(topic, kafka_key.encode(), value)
        except KafkaError as exc:
            self.say(f"Kafka: cannot queue {kind}: {exc}")

    def _send_held(self) -> None:
        held, self._held = self._held, []
        for topic, kafka_key, event in held:
            self._send(topic, kafka_key, event)

    def _write_journal(self, now: float) -> None:
        record = self.machine.journal_record()
        if record is not None:
            self._store(record)
        self._journal_written = now

    def _store(self, record: dict) -> None:
        """Have the lane write the journal (failures are told there, never raised)."""
        if self._journal is not None:
            self._lane.write(self._journal, record)

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
            self._lane.clear(self._journal)
            return
        if self.secure:
            self._window.remember(ended.session_id)
        self._publish([ended])

    # --- health (ZeroMQ thread) --------------------------------------------------------------

    def _answer(self, request: Health | Key) -> HealthOk | HealthKo:
        """Answered by the owner within ``HEALTH_WAIT``, else from the published snapshot."""
        if isinstance(request, Key):
            job: Callable[[], HealthOk | HealthKo] = lambda: self._on_key(request)  # noqa: E731
        else:
            job = lambda: self._on_health(request)  # noqa: E731
        try:
            reply = self._call(job, HEALTH_WAIT)
        except FutureTimeout:
            log.warning("the owner is late: %s answered from the snapshot", type(request).__name__)
            reply = self._late_reply(request.cp_id)
        if isinstance(request, Health):
            self.checks.add("OK" if isinstance(reply, HealthOk) else "KO")
        return reply

    def _late_reply(self, cp_id: str) -> HealthOk | HealthKo:
        """What the last published snapshot says (the posted job still runs later)."""
        published = self._published
        snap = published.machine
        if snap.cp_id is not None and snap.cp_id != cp_id:
            return HealthKo(cp_id=cp_id, reason="cp id mismatch")
        if snap.fault:
            return HealthKo(cp_id=cp_id, reason=published.fault_reason or "engine fault")
        return HealthOk(cp_id=cp_id, engine_state=snap.state)

    def _on_health(self, health: Health) -> HealthOk | HealthKo:
        known = self.machine.cp_id
        reply, events = self.machine.on_health(time.monotonic(), health)
        if known is None and self.machine.cp_id is not None:
            self._drain_notes()
            self._on_cp_known(self.machine.cp_id)
        self._publish(events)
        return reply

    def _on_key(self, request: Key) -> HealthOk | HealthKo:
        """The monitor hands over the CP's key (after every reconnection, and on a change)."""
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

    # --- ticker (owner) ----------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        """Every 100 ms on the owner: metering, progress, expiry, isolation, autopilot,
        the periodic journal write and its clearing, the Kafka line."""
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
            and self._lane.idle  # the supply_ended has left the lane...
            and self.producer.pending == 0  # ...and the producer
            and self._journal is not None
        ):
            self._lane.clear(self._journal)
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
            stop=self._kafka_stop,
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
        published = self._published
        cp_id = published.machine.cp_id
        if cp_id is None or published.key_waiting:
            return None
        consumer = command_consumer(
            self.bootstrap,
            self.topics,
            group=f"engine-{cp_id}",
            client_id=f"engine-{cp_id}",
            secure=self.secure,  # secure: values reach _on_command unparsed, checked there
            producer=self.producer,
            security=self.security,
        )
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
        self.say(f"Listening for Central's commands for {self._published.machine.cp_id}")

    def _consumer_closed(self) -> None:
        self._consumer = None

    def _on_command(self, received: Received) -> None:
        """Kafka thread: hand the command to the owner and wait until it took effect (or was
        refused), so that its offset is stored only then (see the module docstring)."""
        done: Future[None] = Future()
        self._post(lambda: self._command(received, done))
        try:
            done.result(COMMAND_WAIT)
        except FutureTimeout:
            log.warning("command at offset %d not applied yet; reading on", received.offset)

    def _command(self, received: Received, done: Future[None]) -> None:
        """Owner: admit a command; it takes effect once its replay window is durable."""
        event = received.event
        if not isinstance(event, RawValue):  # --insecure: plain commands, no window
            self._obey(event, done)
            return
        cp_id, key = self.machine.cp_id, self._key
        if cp_id is None or key is None:  # the consumer opens only once both are known
            done.set_result(None)
            return
        durable: list[Future[None]] = []
        admitted = admit(
            event.value,
            cp_id=cp_id,
            key=key,
            window=self._window,
            store=lambda window: durable.append(self._store_window(window)),
        )
        if isinstance(admitted, Refusal):
            log.warning("command at offset %d refused: %s", received.offset, admitted.reason)
            self.say(admitted.line)
            self._publish([admitted.event(cp_id, received.offset)])
            done.set_result(None)
            return
        stored = durable[0] if durable else _done()
        # the lane finishes window writes in order, so commands take effect in order too
        stored.add_done_callback(lambda _: self._post(lambda: self._obey(admitted, done)))

    def _obey(self, event: Event, done: Future[None]) -> None:
        try:
            if getattr(event, "cp_id", None) != self.machine.cp_id:
                return
            now = time.monotonic()
            if isinstance(event, Authorize):
                self._publish(self.machine.on_authorize(now, event))
            elif isinstance(event, Stop):
                self._publish(self.machine.on_stop(now, issued_at=event.ts))
            elif isinstance(event, Resume):
                self._publish(self.machine.on_resume(now, issued_at=event.ts))
        finally:
            done.set_result(None)

    def _store_window(self, window: ReplayWindow) -> Future[None]:
        """Post the window to the lane; the future is done once it is durable (or failed)."""
        if self._journal is None:
            return _done()
        return self._lane.write_replay(self._journal, window.to_record())

    # --- the technician (any thread; run on the owner) ----------------------------------------

    def _act(self, action: str) -> str:
        try:
            return self._call(lambda: self._act_owned(action), ACTION_WAIT)
        except FutureTimeout:
            return BUSY

    def _act_owned(self, action: str) -> str:
        now = time.monotonic()
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
        try:
            text = self._call(lambda: self._manual_owned(driver), ACTION_WAIT)
        except FutureTimeout:
            return BUSY
        self.say(text)
        return text

    def _manual_owned(self, driver: str) -> str:
        try:
            if "#" in driver or any(ord(c) < 0x20 for c in driver):
                raise Refused("Manual supply refused: invalid driver id")
            self.machine.check_manual_request()
        except Refused as exc:
            return str(exc)
        cp_id = self.machine.cp_id or ""
        request = ChargeRequest(
            request_id=f"cp-{uuid.uuid4().hex[:12]}",
            driver_id=driver,
            cp_id=cp_id,
            origin=Origin.CP,
            ts=now_ts(),
        )
        self._send(self.topics.requests, cp_id, request)
        text = f"Charge request sent for driver {driver}; waiting for Central"
        if not self.producer.broker_up:
            text += " (Kafka unreachable: queued)"
        return text

    # --- view (any thread) ---------------------------------------------------------------------

    def view(self) -> EngineView:
        """The snapshot the owner published last (at most a tick old); never waits."""
        now = time.monotonic()
        published = self._published
        last = published.last_health
        return EngineView(
            machine=published.machine,
            kafka_up=self.producer.broker_up,
            kafka_pending=self.producer.pending,
            health_port=self.responder.port,
            last_health_age=None if last is None else now - last,
            key_waiting=published.key_waiting,
        )


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


def listening_on(bind: str, port: int) -> str:
    """Where the HEALTH socket listens, in words; all interfaces is said as such (with how to
    restrict it), since a monitor anywhere on the network could then reach the engine."""
    if bind in ("*", "0.0.0.0", "::", ""):
        return f"port {port} (all interfaces; --bind ADDR restricts it)"
    return f"{bind}:{port}"
