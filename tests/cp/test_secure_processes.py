"""EV_CP_E and EV_CP_M in secure mode as real programs: the test Central issues the CP's key,
the monitor stores it and hands it to the engine (KEY), again after the engine restarted; the
engine's events, the journal's report of an interrupted supply included, are sealed."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.cp.conftest import CpLauncher, free_port
from tests.cp.fake_central import FakeCentral
from tests.cp.test_sealed_commands import SealedEvents
from tests.waiting import wait_for
from wire.kafka.messages import Authorize
from wire.kafka.producer import EventProducer
from wire.kafka.sealed import cp_kid, key_bytes, new_key, seal
from wire.kafka.topics import Topics
from wire.tcp_messages import EngineHealth, Heartbeat
from wire.timefmt import format_ts, utc_now

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CP = "CP-SEC"


@pytest.fixture
def key(central: FakeCentral) -> str:
    central.keys[CP] = new_key()
    return central.keys[CP]


@pytest.fixture
def events(kafka_bootstrap: str, topics: Topics, key: str) -> Iterator[SealedEvents]:
    collector = SealedEvents(kafka_bootstrap, topics, key_bytes(key), cp_id=CP)
    yield collector
    collector.close()


def sealed_authorize(producer: EventProducer, topics: Topics, key: str, seq: int) -> str:
    session = f"S-{uuid.uuid4().hex[:8]}"
    command = Authorize(
        session_id=session,
        request_id=f"R-{session}",
        driver_id="D1",
        cp_id=CP,
        price=0.35,
        expires_at=format_ts(utc_now() + timedelta(seconds=60)),
        seq=seq,
    )
    value = seal(command, key=key_bytes(key), kid=cp_kid(CP), topic="evc.cp.commands")
    producer.send_raw(topics.cp_commands, CP.encode(), value)
    producer.flush(5)
    return session


def test_key_reaches_a_restarted_engine_and_the_interrupted_supply_is_reported_sealed(
    launcher: CpLauncher,
    central: FakeCentral,
    events: SealedEvents,
    producer: EventProducer,
    topics: Topics,
    key: str,
) -> None:
    port = free_port()
    args = ("--autopilot", "--plug-delay", "0", "--unplug-after", "600", "--speed", "60")
    engine = launcher.engine(port, *args, secure=True, tty=True)
    monitor = launcher.monitor(CP, port)
    wait_for(lambda: monitor.has("Key handed to the engine"), 10, "KEY to the engine")
    key_file = launcher.tmp / "creds" / f"{CP}.key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    wait_for(lambda: engine.has("Key received from the monitor"), 5, "the engine's line")

    session = sealed_authorize(producer, topics, key, seq=1)
    events.wait("supply_started", 15, session_id=session)
    wait_for(lambda: len(events.of("supply_progress", session_id=session)) >= 2, 10, "progress")
    engine.kill()
    handed = sum("Key handed to the engine" in line for _, line in monitor.lines)
    restarted = launcher.engine(port, "--speed", "60", secure=True, tty=True, name="engine-2")
    wait_for(
        lambda: sum("Key handed to the engine" in line for _, line in monitor.lines) > handed,
        10,
        "KEY to the restarted engine",
    )
    ended = events.wait("supply_ended", 15, session_id=session)
    assert ended.reason == "engine_restart" and ended.kwh > 0
    assert events.plain == 0  # nothing left the engine unsealed

    # the restarted engine obeys the next genuine command, and refuses the old one again
    sealed_authorize(producer, topics, key, seq=1)
    refused = events.wait("command_refused", 15, cp_id=CP)
    assert refused.reason.startswith("replayed")
    second = sealed_authorize(producer, topics, key, seq=2)
    wait_for(lambda: restarted.has("Driver D1 authorized"), 10, "the new authorization")
    assert session != second
    assert central.requests(Heartbeat, CP, 0)[-1].request.engine == EngineHealth.OK
