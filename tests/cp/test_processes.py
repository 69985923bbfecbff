"""EV_CP_E and EV_CP_M as real programs, against a test Central and the real Kafka broker."""

from __future__ import annotations

import os
import stat
import time

import pytest

from tests.cp.authorizations import authorize
from tests.cp.conftest import Collector, CpLauncher
from tests.cp.fake_central import FakeCentral
from tests.procs import free_port
from tests.waiting import wait_for
from wire.tcp_messages import AdminState, Auth, EngineHealth, Fault, Heartbeat, Recovered, Register

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def heartbeats_ok(central: FakeCentral, cp_id: str, since: float) -> list:
    return [
        s for s in central.requests(Heartbeat, cp_id, since) if s.request.engine == EngineHealth.OK
    ]


def test_register_then_authenticate_with_the_stored_credential_and_heartbeat(
    launcher: CpLauncher, central: FakeCentral
) -> None:
    port = free_port()
    launcher.engine(port)
    monitor = launcher.monitor("CP-A", port)
    wait_for(lambda: central.requests(Auth, "CP-A"), 10, "AUTH after REGISTER")
    assert len(central.requests(Register, "CP-A")) == 1
    cred = launcher.tmp / "creds" / "CP-A.cred"
    assert stat.S_IMODE(os.stat(cred).st_mode) == 0o600
    since = time.monotonic()
    wait_for(lambda: heartbeats_ok(central, "CP-A", since)[5:], 10, "six heartbeats")
    beats = heartbeats_ok(central, "CP-A", since)
    gaps = [later.at - earlier.at for earlier, later in zip(beats, beats[1:], strict=False)]
    print(f"heartbeat gaps: {', '.join(f'{g:.2f}' for g in gaps)} s")
    assert all(0.7 < gap < 1.3 for gap in gaps), gaps
    assert monitor.terminate() == 0
    # second run: AUTH with the stored credential, no new REGISTER
    restarted = time.monotonic()
    launcher.monitor("CP-A", port)
    wait_for(lambda: central.requests(Auth, "CP-A", restarted), 10, "second AUTH")
    wait_for(lambda: heartbeats_ok(central, "CP-A", restarted), 5, "heartbeat after re-AUTH")
    assert len(central.requests(Register, "CP-A")) == 1


def test_engine_sigkill_is_reported_within_2s_and_recovery_within_3s(
    launcher: CpLauncher, central: FakeCentral
) -> None:
    port = free_port()
    engine = launcher.engine(port)
    monitor = launcher.monitor("CP-K", port)
    wait_for(lambda: heartbeats_ok(central, "CP-K", 0), 10, "healthy heartbeats")
    engine.kill()
    killed = time.monotonic()

    def reported() -> float | None:
        faults = central.requests(Fault, "CP-K", killed)
        beats = [
            b
            for b in central.requests(Heartbeat, "CP-K", killed)
            if b.request.engine == EngineHealth.UNREACHABLE
        ]
        times = [s.at for s in faults + beats]
        return min(times) if times else None

    detected = wait_for(reported, 4, "FAULT / HEARTBEAT UNREACHABLE") - killed
    print(f"engine SIGKILL detected after {detected:.2f} s")
    assert detected <= 2.0
    assert central.requests(Fault, "CP-K", killed)[0].request.reason == "engine unreachable"

    restarted = launcher.engine(port).started_at
    recovered = wait_for(lambda: central.requests(Recovered, "CP-K", restarted), 6, "RECOVERED")
    took = recovered[0].at - restarted
    print(f"engine restart recovered after {took:.2f} s")
    assert took <= 3.0
    assert monitor.alive


def test_engine_sigkill_mid_supply_is_reported_from_the_journal(
    launcher: CpLauncher, central: FakeCentral, cp_events: Collector, producer, topics
) -> None:
    port = free_port()
    engine = launcher.engine(
        port, "--autopilot", "--plug-delay", "0", "--unplug-after", "600", "--speed", "60"
    )
    launcher.monitor("CP-J", port)
    wait_for(lambda: heartbeats_ok(central, "CP-J", 0)[1:], 10, "healthy heartbeats")
    session = authorize(producer, topics, "CP-J")
    cp_events.wait("supply_started", 15, session_id=session)
    wait_for(lambda: len(cp_events.of("supply_progress", session_id=session)) >= 3, 10, "progress")
    engine.kill()
    last = cp_events.of("supply_progress", session_id=session)[-1]
    launcher.engine(port, "--speed", "60")
    ended = cp_events.wait("supply_ended", 15, session_id=session)
    assert ended.reason == "engine_restart"
    assert ended.kwh > 0
    # the journal is at most a second (60 s of energy at speed 60 = 0.367 kWh) behind the kill
    assert last.kwh - 0.001 <= ended.kwh <= last.kwh + 22 * 60 / 3600 * 1.2
    assert ended.eur == pytest.approx(ended.kwh * 0.35, abs=0.011)
    assert not (launcher.tmp / "journal" / "CP-J.json").exists() or wait_for(
        lambda: not (launcher.tmp / "journal" / "CP-J.json").exists(), 5, "journal cleared"
    )


def test_monitor_sigkill_mid_supply_ends_it_and_blocks_new_ones(
    launcher: CpLauncher, central: FakeCentral, cp_events: Collector, producer, topics
) -> None:
    port = free_port()
    engine = launcher.engine(
        port, "--autopilot", "--plug-delay", "0", "--unplug-after", "600", tty=True
    )
    monitor = launcher.monitor("CP-M", port)
    wait_for(lambda: heartbeats_ok(central, "CP-M", 0)[1:], 10, "healthy heartbeats")
    session = authorize(producer, topics, "CP-M")
    cp_events.wait("supply_progress", 15, session_id=session)
    monitor.kill()
    killed = time.monotonic()
    ended = cp_events.wait("supply_ended", 8, session_id=session)
    assert ended.reason == "monitor_lost"
    print(f"monitor SIGKILL ended the supply after {time.monotonic() - killed:.2f} s")
    second = authorize(producer, topics, "CP-M", driver="D2")
    rejected = cp_events.wait("authorization_rejected", 10, session_id=second)
    assert rejected.reason == "monitor lost"
    engine.press("m")
    wait_for(lambda: engine.has("Manual supply refused: monitor lost"), 5, "manual refusal")
    assert engine.alive


def test_manual_supply_from_the_console_sends_a_cp_charge_request(
    launcher: CpLauncher, central: FakeCentral, requests_seen: Collector
) -> None:
    port = free_port()
    engine = launcher.engine(port, "--manual-driver", "DRV-7", tty=True)
    launcher.monitor("CP-R", port)
    wait_for(lambda: heartbeats_ok(central, "CP-R", 0)[1:], 10, "healthy heartbeats")
    wait_for(lambda: engine.has("Central: Connected"), 5, "console shows the central link")
    engine.press("m")
    request = requests_seen.wait("charge_request", 15, cp_id="CP-R")
    assert (request.driver_id, request.origin) == ("DRV-7", "cp")
    engine.press("k")
    killed_at = time.monotonic()
    wait_for(lambda: central.requests(Fault, "CP-R", killed_at), 3, "FAULT after KO key")
    assert "fault injected" in central.requests(Fault, "CP-R", killed_at)[0].request.reason


def test_central_restart_both_cp_processes_survive_and_reconnect(
    launcher: CpLauncher, central: FakeCentral
) -> None:
    port = free_port()
    engine = launcher.engine(port)
    monitor = launcher.monitor("CP-C", port)
    wait_for(lambda: heartbeats_ok(central, "CP-C", 0), 10, "healthy heartbeats")
    central.stop()
    down = time.monotonic()
    wait_for(lambda: monitor.has("Cannot reach CENTRAL", down), 5, "Cannot reach CENTRAL")
    central.start()
    back = time.monotonic()
    wait_for(lambda: central.requests(Auth, "CP-C", back), 6, "re-AUTH after Central restart")
    wait_for(lambda: heartbeats_ok(central, "CP-C", back), 5, "heartbeats again")
    print(f"reconnected {central.requests(Auth, 'CP-C', back)[0].at - back:.2f} s after restart")
    assert engine.alive and monitor.alive


def test_admin_stopped_in_heartbeat_answer_stops_the_supply_and_resume_reopens(
    launcher: CpLauncher, central: FakeCentral, cp_events: Collector, producer, topics
) -> None:
    port = free_port()
    launcher.engine(port, "--autopilot", "--plug-delay", "0", "--unplug-after", "600")
    launcher.monitor("CP-S", port)
    wait_for(lambda: heartbeats_ok(central, "CP-S", 0)[1:], 10, "healthy heartbeats")
    session = authorize(producer, topics, "CP-S")
    cp_events.wait("supply_progress", 15, session_id=session)
    central.set_admin("CP-S", AdminState.STOPPED)  # relayed: ALIVE -> HEALTH admin_state
    ended = cp_events.wait("supply_ended", 5, session_id=session)
    assert ended.reason == "stopped"
    refused = authorize(producer, topics, "CP-S", driver="D2")
    rejected = cp_events.wait("authorization_rejected", 10, session_id=refused)
    assert rejected.reason.startswith("out of order")
    central.set_admin("CP-S", AdminState.ACTIVE)
    resumed_at = time.monotonic()
    wait_for(lambda: heartbeats_ok(central, "CP-S", resumed_at)[1:], 5, "heartbeats after resume")
    again = authorize(producer, topics, "CP-S", driver="D3")
    cp_events.wait("supply_started", 10, session_id=again)
