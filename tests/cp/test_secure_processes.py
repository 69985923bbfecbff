"""EV_CP_E and EV_CP_M in secure mode as real programs: the test Central (over TLS) issues the
CP's key, the monitor stores it and hands it to the engine (KEY, over CURVE), again after the
engine restarted; the engine's events, the journal's report of an interrupted supply included,
are sealed. A monitor whose CURVE key the engine does not hold gets nothing through and says
why."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest

from tests.cp.authorizations import authorization
from tests.cp.conftest import CpLauncher
from tests.cp.fake_central import FakeCentral
from tests.cp.test_engine_link import stranger
from tests.cp.test_sealed_commands import SealedEvents
from tests.procs import free_port
from tests.waiting import wait_for
from wire.curve import CurveKeys
from wire.health_messages import Key
from wire.kafka.producer import EventProducer
from wire.kafka.sealed import cp_kid, key_bytes, new_key, seal
from wire.kafka.topics import Topics
from wire.pki import Secrets
from wire.tcp_messages import EngineHealth, Heartbeat
from wire.tls import server_context

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CP = "CP-SEC"


@pytest.fixture
def central(tls_secrets: Secrets) -> Iterator[FakeCentral]:
    """A test Central on TLS, as a secure one: the monitor then runs fully secure."""
    tls = server_context(tls_secrets.cert("central"), tls_secrets.key("central"))
    fake = FakeCentral(tls=tls)
    fake.start()
    yield fake
    fake.shutdown()


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
    command = authorization(CP, seq=seq)
    value = seal(command, key=key_bytes(key), kid=cp_kid(CP), topic="evc.cp.commands")
    producer.send_raw(topics.cp_commands, CP.encode(), value)
    producer.flush(5)
    return command.session_id


def test_key_reaches_a_restarted_engine_and_the_interrupted_supply_is_reported_sealed(
    launcher: CpLauncher,
    central: FakeCentral,
    events: SealedEvents,
    producer: EventProducer,
    topics: Topics,
    key: str,
    tls_secrets: Secrets,
) -> None:
    port = free_port()
    args = ("--autopilot", "--plug-delay", "0", "--unplug-after", "600", "--speed", "60")
    engine = launcher.engine(port, *args, secure=True, tty=True)
    monitor = launcher.monitor(CP, port, central_ca=tls_secrets.ca_cert)
    wait_for(lambda: monitor.has("Key handed to the engine"), 10, "KEY to the engine")
    # on the loopback interface, over CURVE; each program made its own keys in one folder
    assert engine.has(f"Engine listening for its monitor on 127.0.0.1:{port}; CURVE")
    assert monitor.has("created the CURVE keypair of CP-SEC's monitor")
    curve = CurveKeys(launcher.curve_dir)
    assert curve.engine_secret.exists() and curve.monitor_secret(CP).exists()
    # a stranger on the same port gets nothing through
    assert stranger(port, Key(cp_id=CP, key=new_key()).to_bytes()) is None
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


def test_a_monitor_whose_key_the_engine_lacks_is_unreachable_and_says_why(
    launcher: CpLauncher, central: FakeCentral, key: str, tls_secrets: Secrets
) -> None:
    """Two folders, as on two hosts where only the engine's public key was copied: the
    engine refuses the monitor at the handshake; the monitor reports UNREACHABLE, in words,
    and Central hears it. Copying the monitor's public key to the engine's folder is enough."""
    port = free_port()
    engine = launcher.engine(port, secure=True, tty=True, name="engine-far")
    wait_for(lambda: engine.has("Engine listening for its monitor"), 15, "the engine")
    ours = CurveKeys(launcher.tmp / "monitor-host")
    ours.root.mkdir()
    ours.engine_public.write_bytes(CurveKeys(launcher.curve_dir).engine_public.read_bytes())
    monitor = launcher.monitor(
        CP, port, "--curve-dir", str(ours.root), central_ca=tls_secrets.ca_cert
    )
    wait_for(lambda: monitor.has("the engine refused our CURVE key"), 15, "the reason")
    said = [line for _, line in monitor.lines if "Engine UNREACHABLE" in line]
    assert len(said) == 1, said  # once, not every second
    assert f"{ours.monitor_public(CP)}" in said[0]
    wait_for(
        lambda: any(
            seen.request.engine == EngineHealth.UNREACHABLE
            for seen in central.requests(Heartbeat, CP, 0)
        ),
        10,
        "Central to hear UNREACHABLE",
    )
    assert not monitor.has("Key handed to the engine")
    assert engine.has("refused a ZeroMQ peer from 127.0.0.1")
    # the operator copies the monitor's public key to the engine's host: it gets in
    theirs = CurveKeys(launcher.curve_dir)
    theirs.cp_dir(CP).mkdir(parents=True)
    theirs.monitor_public(CP).write_bytes(ours.monitor_public(CP).read_bytes())
    wait_for(lambda: monitor.has("Key handed to the engine"), 15, "KEY to the engine")
    assert monitor.has("Engine OK at")


def test_a_command_cut_short_by_a_crash_during_its_slow_fsync_is_obeyed_once_after_restart(
    launcher: CpLauncher,
    central: FakeCentral,
    events: SealedEvents,
    producer: EventProducer,
    topics: Topics,
    key: str,
    tls_secrets: Secrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL while the replay window of an authorize is being fsynced: the window is not
    durable, so the command has not taken effect and its offset was not committed; the
    restarted engine reads it again and obeys it once, and a replay of it is refused."""
    slow = launcher.tmp / "slow-disk"
    monkeypatch.setenv("EVC_TEST_SLOW_FSYNC_FLAG", str(slow))
    monkeypatch.setenv("EVC_TEST_SLOW_FSYNC_S", "30")
    port = free_port()
    engine = launcher.engine(port, secure=True, tty=True, module="tests.cp.slow_disk_engine")
    monitor = launcher.monitor(CP, port, central_ca=tls_secrets.ca_cert)
    wait_for(lambda: monitor.has("Key handed to the engine"), 10, "KEY to the engine")
    wait_for(lambda: engine.has("Listening for Central's commands"), 10, "the consumer")
    slow.touch()
    sealed_authorize(producer, topics, key, seq=1)
    wait_for(lambda: engine.has("slow fsync"), 10, "the replay window's slow fsync")
    assert not engine.has("Driver D1 authorized")  # not before its window is durable
    engine.kill()
    slow.unlink()
    replay = launcher.tmp / "journal" / f"{CP}.replay.json"
    assert not replay.exists() or '"last_seq":1' not in replay.read_text()

    restarted = launcher.engine(port, secure=True, tty=True, name="engine-2")
    wait_for(lambda: restarted.has("Driver D1 authorized"), 20, "the authorize, redelivered")
    assert not events.of("command_refused")
    assert '"last_seq":1' in replay.read_text()
    sealed_authorize(producer, topics, key, seq=1)  # the captured value again
    refused = events.wait("command_refused", 15, cp_id=CP)
    assert refused.reason.startswith("replayed")
    authorized = [line for _, line in restarted.lines if "Driver D1 authorized" in line]
    assert len(authorized) == 1, authorized
