"""Secure mode of the engine (docs/security.md, layers 2 and 3): a real EngineService, a
monitor speaking real ZeroMQ (HEALTH and KEY), the real broker.

Only commands sealed with this CP's key, naming this CP, with a growing ``seq`` and (for an
``authorize``) a session not seen before are obeyed; everything else is refused with a sealed
``command_refused`` and the CP keeps working. The replay window survives a restart.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cp_core.command_guard import Refusal, ReplayWindow, open_command
from cp_node.engine_service import EngineService
from cp_node.engine_state import EngineConfig
from tests.cp.conftest import Collector
from tests.cp.fake_monitor import FakeMonitor
from tests.waiting import wait_for
from wire.errors import WireError
from wire.health import LazyPirateClient
from wire.health_messages import CentralLink, EngineState, Health, HealthOk, Key
from wire.kafka.consumer import Received
from wire.kafka.messages import CP_EVENTS, REQUESTS, Authorize, Event, Stop
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec, RawValue
from wire.kafka.sealed import cp_kid, key_bytes, new_key, open_value, seal
from wire.kafka.topics import Topics
from wire.tcp_messages import AdminState
from wire.timefmt import format_ts, utc_now

CP = "CP-S1"


class SealedEvents(Collector):
    """Collects ``evc.cp.events`` values sealed with one CP's key (opened here)."""

    def __init__(self, kafka: str, topics: Topics, key: bytes, cp_id: str = CP) -> None:
        self.key, self.cp_id, self.plain = key, cp_id, 0
        super().__init__(kafka, topics.cp_events, RawCodec())

    def _on(self, received: Received) -> None:
        assert isinstance(received.event, RawValue)
        try:
            kid, event = open_value(
                received.event.value,
                keys=lambda kid: self.key if kid == cp_kid(self.cp_id) else None,
                topic="evc.cp.events",
                codec=CP_EVENTS,
            )
        except WireError:
            self.plain += 1  # not sealed with this key: must never happen in secure mode
            return
        assert kid == cp_kid(self.cp_id)
        super()._on(Received(received.topic, 0, received.offset, received.key, event))


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def engine(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[EngineService]:
    svc = _engine(kafka_bootstrap, topics, tmp_path)
    svc.start()
    yield svc
    svc.close()


def _engine(kafka: str, topics: Topics, tmp_path: Path, **options: Any) -> EngineService:
    """An engine at 60× speed on a free port, its journal in ``tmp_path`` (not started)."""
    return EngineService(
        bootstrap=kafka,
        port=0,
        bind="127.0.0.1",
        topics=topics,
        config=EngineConfig(speed=60.0),
        journal_dir=tmp_path / "journal",
        **options,
    )


@pytest.fixture
def events(kafka_bootstrap: str, topics: Topics, key: str) -> Iterator[SealedEvents]:
    collector = SealedEvents(kafka_bootstrap, topics, key_bytes(key))
    yield collector
    collector.close()


class Central:
    """Sends commands the way a secure Central does (and the ways an attacker would)."""

    def __init__(self, producer: EventProducer, topics: Topics, key: str) -> None:
        self.producer, self.topics, self.key = producer, topics, key_bytes(key)
        self.seq = 1000

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def authorize(self, session: str | None = None, seq: int | None = None, **kw) -> Authorize:
        return Authorize(
            session_id=session or f"s-{uuid.uuid4().hex[:8]}",
            request_id=f"r-{uuid.uuid4().hex[:6]}",
            driver_id="D-001",
            cp_id=kw.pop("cp_id", CP),
            price=0.35,
            expires_at=format_ts(utc_now() + timedelta(seconds=30)),
            seq=self.next_seq() if seq is None else seq,
        )

    def send(self, event: Event, *, key: bytes | None = None, kid: str | None = None) -> None:
        value = seal(event, key=key or self.key, kid=kid or cp_kid(CP), topic="evc.cp.commands")
        self.producer.send_raw(self.topics.cp_commands, CP.encode(), value)
        self.producer.flush(5)

    def send_plain(self, event: Event) -> None:
        self.producer.send(self.topics.cp_commands, CP, event)
        self.producer.flush(5)


@pytest.fixture
def central(producer: EventProducer, topics: Topics, key: str) -> Central:
    return Central(producer, topics, key)


def _keyed(engine: EngineService, key: str) -> FakeMonitor:
    monitor = FakeMonitor(engine.responder.port)
    wait_for(lambda: engine.machine.cp_id == CP, 5, "the engine to learn its CP id")
    monitor.give_key(key)
    wait_for(lambda: monitor.key_replies, 5, "the KEY reply")
    assert isinstance(monitor.key_replies[-1], HealthOk)
    wait_for(lambda: engine._consumer is not None, 10, "the command consumer")
    return monitor


def _authorized(engine: EngineService, session: str) -> bool:
    auth = engine.machine.authorization
    return auth is not None and auth.session_id == session


def _cancel(engine: EngineService, central: Central) -> None:
    """End the current authorization with a valid stop, so the next authorize can be taken."""
    central.send(Stop(cp_id=CP, seq=central.next_seq()))
    wait_for(lambda: engine.machine.authorization is None, 10, "the stop")
    from wire.kafka.messages import Resume

    central.send(Resume(cp_id=CP, seq=central.next_seq()))
    wait_for(lambda: engine.machine.state == EngineState.IDLE, 10, "the resume")


pytestmark = pytest.mark.kafka


def test_without_the_key_nothing_is_accepted_and_events_are_held(engine, key, events) -> None:
    monitor = FakeMonitor(engine.responder.port)
    try:
        wait_for(lambda: engine.machine.cp_id == CP, 5, "the CP id")
        assert engine.view().key_waiting
        assert "waiting for the key from the monitor" in engine.manual_request()
        assert any("Waiting for the key" in line for line in engine.drain_log())
        monitor.give_key(key)
        wait_for(lambda: not engine.view().key_waiting, 5, "the key")
        assert "waiting for the key" not in engine.manual_request()
    finally:
        monitor.close()


@pytest.mark.parametrize(
    "attack",
    ["wrong key", "unsealed", "for another CP", "names another CP"],
)
def test_forged_commands_are_refused_and_the_cp_keeps_working(
    engine, central, events, key, attack
) -> None:
    monitor = _keyed(engine, key)
    try:
        stop = Stop(cp_id=CP, seq=central.next_seq())
        if attack == "wrong key":
            central.send(stop, key=key_bytes(new_key()))
            expected = "forged"
        elif attack == "unsealed":
            central.send_plain(stop)
            expected = "unsealed"
        elif attack == "for another CP":
            central.send(stop, kid=cp_kid("CP-S2"))
            expected = "forged"
        else:
            central.send(Stop(cp_id="CP-S2", seq=central.next_seq()))
            expected = "forged"
        refused = events.wait("command_refused", cp_id=CP)
        assert refused.reason.startswith(expected), refused.reason
        assert refused.offset is not None
        assert engine.machine.state == EngineState.IDLE  # the stop was not obeyed
        assert any(line.split("  ", 1)[1].startswith("Refused ") for line in engine.drain_log())
        # the CP keeps working: a genuine authorize is honoured
        auth = central.authorize()
        central.send(auth)
        wait_for(lambda: _authorized(engine, auth.session_id), 10, "the valid authorize")
        assert events.plain == 0
    finally:
        monitor.close()


def test_replayed_commands_are_refused(engine, central, events, key) -> None:
    monitor = _keyed(engine, key)
    try:
        first = central.authorize()
        central.send(first)
        wait_for(lambda: _authorized(engine, first.session_id), 10, "the authorize")
        _cancel(engine, central)
        # the very same value again (same seq): a replay
        central.send(first)
        refused = events.wait("command_refused", command_type="authorize")
        assert refused.reason.startswith("replayed: seq")
        # a new seq but a session already authorized: a replay too
        central.send(central.authorize(session=first.session_id))
        wait_for(lambda: len(events.of("command_refused")) == 2, 10, "the second refusal")
        assert "already authorized" in events.of("command_refused")[-1].reason
        # a command without seq (a version-1 Central, or a forger): refused
        central.send(Stop(cp_id=CP))
        wait_for(lambda: len(events.of("command_refused")) == 3, 10, "the third refusal")
        assert engine.machine.state == EngineState.IDLE
        fresh = central.authorize()
        central.send(fresh)
        wait_for(lambda: _authorized(engine, fresh.session_id), 10, "the fresh authorize")
    finally:
        monitor.close()


def test_the_replay_window_survives_a_restart(
    kafka_bootstrap, topics, tmp_path, central, events, key
) -> None:
    engine = _engine(kafka_bootstrap, topics, tmp_path)
    engine.start()
    monitor = _keyed(engine, key)
    stop = Stop(cp_id=CP, seq=central.next_seq())
    try:
        central.send(stop)
        wait_for(lambda: engine.machine.state == EngineState.STOPPED, 10, "the stop")
    finally:
        monitor.close()
        engine.close()
    # a new engine process (fresh memory, a new consumer group offset for its topics): the
    # captured stop is sent again after it started
    refused_after_restart(kafka_bootstrap, topics, tmp_path, central, events, key, stop)


def refused_after_restart(
    kafka: str,
    topics: Topics,
    tmp_path: Path,
    central: Central,
    events: SealedEvents,
    key: str,
    stop: Stop,
) -> None:
    """Start a new engine on the same journal, send ``stop`` again: refused as replayed, not
    obeyed (also in tests/cp/test_slow_journal.py)."""
    engine = _engine(kafka, topics, tmp_path)
    engine.start()
    monitor = _keyed(engine, key)
    refusals = len(events.of("command_refused"))
    try:
        assert engine._window.last_seq == stop.seq
        central.send(stop)
        wait_for(lambda: len(events.of("command_refused")) > refusals, 10, "the refusal")
        assert events.of("command_refused")[-1].reason.startswith("replayed: seq")
        assert engine.machine.state != EngineState.STOPPED
        assert not any("Stopped by Central" in line for line in engine.drain_log())
    finally:
        monitor.close()
        engine.close()


def test_events_and_manual_requests_are_sealed_with_the_cp_key(
    engine, kafka_bootstrap, topics, key, events
) -> None:
    requests = SealedRequests(kafka_bootstrap, topics, key_bytes(key))
    monitor = _keyed(engine, key)
    try:
        assert "Charge request sent" in engine.manual_request("D-007")
        request = requests.wait("charge_request", driver_id="D-007")
        assert request.cp_id == CP and request.origin == "cp"
    finally:
        monitor.close()
        requests.close()


class SealedRequests(SealedEvents):
    def __init__(self, kafka: str, topics: Topics, key: bytes) -> None:
        self.key, self.cp_id, self.plain = key, CP, 0
        Collector.__init__(self, kafka, topics.requests, RawCodec())

    def _on(self, received: Received) -> None:
        assert isinstance(received.event, RawValue)
        kid, event = open_value(
            received.event.value,
            keys=lambda kid: self.key if kid == cp_kid(CP) else None,
            topic="evc.requests",
            codec=REQUESTS,
        )
        Collector._on(self, Received(received.topic, 0, received.offset, received.key, event))


# --- the guard on its own (no I/O) -----------------------------------------------------------


def test_refusal_lines_read_plainly() -> None:
    assert (
        Refusal("forged: does not open with the key of 'cp:CP-01'", "").line
        == "Refused a forged command (does not open with the key of 'cp:CP-01')"
    )
    assert Refusal("unsealed: x", "stop").line == "Refused an unsealed stop command (x)"


def test_open_command_and_window() -> None:
    key = key_bytes(new_key())
    stop = Stop(cp_id=CP, seq=5)
    sealed = seal(stop, key=key, kid=cp_kid(CP), topic="evc.cp.commands")
    assert open_command(sealed, cp_id=CP, key=key) == stop
    moved = seal(stop, key=key, kid=cp_kid(CP), topic="evc.cp.events")  # another topic
    assert isinstance(open_command(moved, cp_id=CP, key=key), Refusal)
    assert isinstance(open_command(b"\xff", cp_id=CP, key=key), Refusal)
    window = ReplayWindow.from_record({"last_seq": 5, "sessions": ["s-1"]})
    assert window.check(stop) is not None
    assert window.check(Stop(cp_id=CP, seq=6)) is None
    again = Authorize(
        session_id="s-1", request_id="r", driver_id="D", cp_id=CP, price=1.0,
        expires_at="2030-01-01T00:00:00.000Z", seq=9,
    )  # fmt: skip
    assert "already authorized" in window.check(again).reason  # type: ignore[union-attr]


def test_the_monitor_sees_a_new_engine_connection_even_without_a_missed_check() -> None:
    """ZeroMQ reconnects by itself: a quick engine restart costs no missed HEALTH, yet the
    monitor must hand the new engine its key. ``LazyPirateClient.connections`` counts it."""
    from wire.health import HealthResponder

    def answer(request: Health | Key) -> HealthOk:
        return HealthOk(cp_id=request.cp_id, engine_state=EngineState.IDLE)

    health = Health(
        cp_id=CP, price=0.35, admin_state=AdminState.ACTIVE, central_link=CentralLink.UP
    )
    first = HealthResponder(0, answer, host="127.0.0.1")
    port = first.port
    client = LazyPirateClient(f"tcp://127.0.0.1:{port}", timeout_ms=2000)
    stop = threading.Event()
    try:
        serving = threading.Thread(target=first.serve, args=(stop,), daemon=True)
        serving.start()
        client.check(health)
        client.check(health)
        assert client.connections == 1
        stop.set()
        serving.join(3)
        first.close()

        def rebind() -> HealthResponder | None:
            try:
                return HealthResponder(port, answer, host="127.0.0.1")
            except WireError:
                return None

        second = wait_for(rebind, 5, "the port to be free again")
        stop = threading.Event()
        serving = threading.Thread(target=second.serve, args=(stop,), daemon=True)
        serving.start()
        client.check(health)  # answered by the new engine, no miss on the way
        assert client.misses == 0 and client.connections == 2
        stop.set()
        serving.join(3)
        second.close()
    finally:
        stop.set()
        client.close()
