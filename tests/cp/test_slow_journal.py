"""A slow disk never makes HEALTH late, and a command still takes effect exactly once.

The engine's owner answers HEALTH and never waits on the journal: its fsyncs run on the
journal lane (cp_node.engine_service, cp_node.journal_lane). Here every fsync blocks for
``SLOW_FSYNC`` seconds while a sealed stop's replay window is written: the monitor's checks
(500 ms deadline, as EV_CP_M) are all answered meanwhile, the stop takes effect only once
its window is on disk, once, and neither a redelivery nor a restart obeys it again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from cp_node.engine_service import HEALTH_WAIT
from tests.cp.test_sealed_commands import (
    CP,
    Central,
    SealedEvents,
    _engine,
    _keyed,
    refused_after_restart,
)
from tests.waiting import wait_for
from wire.health import LazyPirateClient
from wire.health_messages import CentralLink, EngineState, Health, HealthOk
from wire.kafka.messages import Stop
from wire.kafka.sealed import key_bytes, new_key
from wire.tcp_messages import AdminState

SLOW_FSYNC = 2.0
MONITOR_DEADLINE_MS = 500  # EV_CP_M's health check

pytestmark = pytest.mark.kafka


class SlowDisk:
    """``os.fsync`` that blocks for ``SLOW_FSYNC`` s while ``slow`` is set."""

    def __init__(self) -> None:
        self.slow = threading.Event()
        self.inside = threading.Event()  # an fsync is blocking right now
        self.blocked = 0
        self._real = os.fsync

    def fsync(self, fd: int) -> None:
        if self.slow.is_set():
            self.blocked += 1
            self.inside.set()
            try:
                time.sleep(SLOW_FSYNC)
            finally:
                self.inside.clear()
        self._real(fd)


def test_health_is_answered_during_a_slow_fsync_and_the_command_applies_once(
    kafka_bootstrap, topics, tmp_path: Path, producer, monkeypatch
) -> None:
    disk = SlowDisk()
    monkeypatch.setattr(os, "fsync", disk.fsync)
    key = new_key()
    central = Central(producer, topics, key)
    events = SealedEvents(kafka_bootstrap, topics, key_bytes(key))
    engine = _engine(kafka_bootstrap, topics, tmp_path)
    engine.start()
    monitor = _keyed(engine, key)
    checker = LazyPirateClient(
        f"tcp://127.0.0.1:{engine.responder.port}", timeout_ms=MONITOR_DEADLINE_MS
    )
    health = Health(
        cp_id=CP, price=0.35, admin_state=AdminState.ACTIVE, central_link=CentralLink.UP
    )
    stop = Stop(cp_id=CP, seq=central.next_seq())
    replay_file = tmp_path / "journal" / f"{CP}.replay.json"
    try:
        disk.slow.set()
        central.send(stop)
        wait_for(disk.inside.is_set, 10, "the replay window's slow fsync")
        # while the window is being written: every check answered OK well within the deadline,
        # and the stop has not taken effect (it is obeyed only once its window is durable)
        during: list[float] = []
        while disk.inside.is_set() or disk.blocked < 2:  # the file's fsync, then the folder's
            asked = time.monotonic()
            reply = checker.check(health)  # raises EngineUnreachable after 500 ms
            during.append(time.monotonic() - asked)
            assert isinstance(reply, HealthOk), reply
            if engine.machine.state != EngineState.STOPPED:
                assert engine._window.last_seq == stop.seq  # admitted: a redelivery is refused
            time.sleep(0.05)
        assert len(during) >= 10, during
        assert max(during) < HEALTH_WAIT + 0.1, during
        wait_for(lambda: engine.machine.state == EngineState.STOPPED, 10, "the stop")
        assert json.loads(replay_file.read_text())["last_seq"] == stop.seq
        disk.slow.clear()
        # redelivered: refused, not obeyed twice
        central.send(stop)
        refused = events.wait("command_refused", command_type="stop")
        assert refused.reason.startswith("replayed: seq")
    finally:
        disk.slow.clear()
        checker.close()
        monitor.close()
        engine.close()
    lines = engine.drain_log()
    assert sum("Stopped by Central" in line for line in lines) == 1, lines
    # a restarted engine reads the durable window: the same command is refused again
    try:
        refused_after_restart(kafka_bootstrap, topics, tmp_path, central, events, key, stop)
    finally:
        events.close()
