"""evc-fleet's Go monitor generator (fleet/gomon, driven by fleet/go_generator.py).

Built from source with the machine's Go toolchain (``make setup`` installs Debian's
golang-go); without one these tests are skipped and say so. First against a scripted TLS
Central (the exact requests, a NACKed REGISTER resent, a dropped connection resumed with the
CP's TLS session), then a small fleet against a real EV_Central process and broker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet import go_generator
from fleet.child import ChildFailure
from fleet.monitors import PhaseStats
from fleet.pinning import plan
from fleet.scenario import Scenario
from tests.fleet.secured import run_sampled, secured_options
from wire.framing import Control, ControlByte, Frame, FrameDecoder, encode_frame
from wire.pki import Secrets
from wire.tcp_messages import REQUESTS, Auth, Heartbeat, Register
from wire.tls import server_context

REPO = Path(__file__).resolve().parents[2]

needs_go = pytest.mark.skipif(
    go_generator.find_go() is None and not go_generator.is_built(),
    reason=f"no Go toolchain to build evc-fleet's Go generator: {go_generator.SETUP}",
)


def test_without_go_the_build_names_the_setup_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(go_generator, "find_go", lambda: None)
    monkeypatch.setattr(go_generator, "is_built", lambda: False)
    with pytest.raises(go_generator.GoMissing) as missing:
        go_generator.build()
    assert "make setup" in str(missing.value) and "golang-go" in str(missing.value)


@pytest.mark.process
@pytest.mark.skipif(go_generator.find_go() is None, reason=f"no Go toolchain: {go_generator.SETUP}")
def test_the_generators_own_go_tests_pass() -> None:
    """fleet/gomon's unit tests (framing vectors shared with wire/, the reactor's sockets, a
    poll that returns when every socket ends at once) run with the suite, not only by hand."""
    go = go_generator.find_go()
    assert go is not None
    done = subprocess.run(
        [str(go), "test", "./..."],
        cwd=REPO / "fleet" / "gomon",
        env=go_generator.go_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


class ScriptedCentral(asyncio.Protocol):
    """Answers like Central, NACKs each CP's first REGISTER, and closes each CP's first
    connection after its first ALIVE (the monitor must reconnect and resume TLS)."""

    def __init__(self, log: dict[str, Any]) -> None:
        self.log = log
        self.decoder = FrameDecoder()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, ControlByte):
                if event.code == Control.ENQ:
                    self.transport.write(bytes([Control.ACK]))
                elif event.code == Control.ACK:
                    self.log["acks"] += 1
            elif isinstance(event, Frame):
                self._on_request(event.data)

    def _respond(self, text: str) -> None:
        self.log["responses"] += 1
        self.transport.write(bytes([Control.ACK]) + encode_frame(text.encode()))

    def _on_request(self, data: bytes) -> None:
        message = REQUESTS.parse(data)
        self.log["requests"].append(data)
        if isinstance(message, Register):
            if message.cp_id not in self.log["nacked"]:
                self.log["nacked"].add(message.cp_id)
                self.transport.write(bytes([Control.NACK]))
                return
            self._respond(f"REGISTERED#{message.cp_id}#cred-{message.cp_id}#0.35#key")
        elif isinstance(message, Auth):
            assert message.credential == f"cred-{message.cp_id}"
            self._respond(f"AUTHORIZED#{message.cp_id}#0.35#ACTIVE#key")
        elif isinstance(message, Heartbeat):
            self._respond(f"ALIVE#{message.cp_id}#ACTIVE")
            if message.cp_id not in self.log["dropped"]:
                self.log["dropped"].add(message.cp_id)
                self.transport.close()


@pytest.fixture
def scripted_central(tmp_path: Path) -> Iterator[tuple[int, Path, dict[str, Any]]]:
    secrets = Secrets(tmp_path / "secrets")
    secrets.init()
    context = server_context(secrets.cert("central"), secrets.key("central"))
    log: dict[str, Any] = {
        "requests": [],
        "nacked": set(),
        "dropped": set(),
        "acks": 0,
        "responses": 0,
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        loop.create_server(lambda: ScriptedCentral(log), "127.0.0.1", 0, ssl=context), loop
    ).result(10)
    try:
        yield server.sockets[0].getsockname()[1], secrets.ca_cert, log
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _ask(monitors: go_generator.GoMonitors, *command: Any) -> Any:
    monitors.send(command)
    assert monitors.poll(30), f"no reply to {command}"
    reply = monitors.recv()
    assert not isinstance(reply, ChildFailure), reply
    return reply


@needs_go
@pytest.mark.process
@pytest.mark.timeout(300)  # the first build compiles crypto/tls
def test_go_monitors_speak_the_protocol_and_resume_tls(
    scripted_central: tuple[int, Path, dict[str, Any]], tmp_path: Path
) -> None:
    port, ca, log = scripted_central
    cps = [(f"GO{i:03d}", f"claim-{i}", 100.5 + i, 200.0) for i in range(20)]
    tokens = {cp_id: f"token-{cp_id}" for cp_id, *_ in cps}
    options = {"response_timeout": 10.0, "seed": 1, "tls_ca": str(ca), "tokens": tokens}
    monitors = go_generator.start([port], cps, options, tmp_path / "gomon.log")
    try:
        _ask(monitors, "phase", "register", False, False)
        _ask(monitors, "start", 0.2)
        deadline = time.monotonic() + 20
        while _ask(monitors, "snapshot")["registered"] < len(cps):
            assert time.monotonic() < deadline, (tmp_path / "gomon.log").read_text()
            time.sleep(0.2)
        _ask(monitors, "phase", "steady", False, False)
        deadline = time.monotonic() + 20
        while len(log["dropped"]) < len(cps) or _ask(monitors, "snapshot")["authenticated"] < len(
            cps
        ):
            assert time.monotonic() < deadline, log["dropped"]
            time.sleep(0.2)
        time.sleep(2.2)  # two more heartbeats of every CP on its resumed connection
        snapshot = _ask(monitors, "snapshot")
        collected = _ask(monitors, "collect")
        assert _ask(monitors, "silence", 1) and True
        _ask(monitors, "stop")
    finally:
        monitors.join(5)
        if monitors.is_alive():
            monitors.kill()
    assert monitors.exitcode == 0

    # the requests, byte for byte as wire.tcp_messages writes them; each REGISTER resent
    # after its NACK, with the claim and the operator's token
    registers = [REQUESTS.parse(r) for r in log["requests"] if r.startswith(b"REGISTER#")]
    assert len(registers) == 2 * len(cps)
    for cp_id, claim, x, y in cps:
        mine = [r for r in registers if r.cp_id == cp_id]
        assert mine[0] == mine[1] == Register(cp_id, "Fleet", x, y, claim, tokens[cp_id])
    # every response ACKed (but the ALIVE after which the scripted Central hung up)
    assert log["acks"] == log["responses"] - len(cps)

    stats: dict[str, PhaseStats] = collected["stats"]
    assert set(stats) >= {"start", "register", "steady"}
    assert isinstance(snapshot["stats"], PhaseStats)
    total = PhaseStats()
    for phase in stats.values():
        total.merge(phase)
    assert total.registered == len(cps) and total.errors == 0
    assert total.tls_full == len(cps) and total.tls_resumed == len(cps)
    assert total.drops == len(cps) and total.auth_ok == 2 * len(cps)
    steady = stats["steady"]
    assert steady.hb_due >= len(cps) and steady.hb_ok + steady.hb_overdue == steady.hb_due
    assert steady.latency.count == steady.hb_ok and steady.tick_lag.count > 100
    assert sorted(collected["intervals"]) == sorted(c[0] for c in cps)
    assert len(collected["registered_at"]) == len(cps) and collected["claim_supported"]
    # the JSON carries every field of the Python workers' PhaseStats
    names = {f.name for f in dataclasses.fields(PhaseStats)}
    assert names <= set(vars(snapshot["stats"]))


@needs_go
@pytest.mark.kafka
@pytest.mark.process
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_50_tls_sealed_cps_from_the_go_generator_against_a_real_central(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    go_generator.build()  # outside the run's time limits
    cps = 50
    # sealed: the CPs' keys travel from the Go monitors to the Kafka simulation
    options = secured_options(
        cps=cps,
        duration=4.0,
        storm=True,
        supply_seconds=3.0,
        storm_timeout=30.0,
        silence=0,
        monitor_nice=0,
        label="go smoke",
        generator="go",  # one Go process simulates every monitor, whatever ``workers`` says
        pin=plan(),
    )
    _, result, text = run_sampled(
        lambda sampler, say: Scenario(options, kafka_bootstrap, tmp_path, sampler, say)
    )
    assert "error" not in result, (result["error"], text)
    assert result["generator"] == "go" and result["workers"] == 1
    assert result["generator_runtime"]["go"].startswith("go"), result["generator_runtime"]
    if options.pin is not None:
        assert result["pinning"]["central"] != result["pinning"]["generator"]

    registration = result["registration"]
    assert registration["complete"] and registration["locked_out"] == 0, (registration, text)
    assert registration["sessions"]["tls_full_handshakes"] >= cps

    steady = result["steady"]
    heartbeats = steady["heartbeats"]
    assert heartbeats["due"] >= 2 * cps, heartbeats
    assert heartbeats["answered"] == heartbeats["due"], heartbeats
    assert heartbeats["latency"]["count"] == heartbeats["answered"]
    assert heartbeats["generator_tick_lag"]["count"] > 100  # the generator's own lag
    for figure in ("generator_cpu_mean", "monitors_cpu_mean", "monitors_rss_mean_mb"):
        assert steady[figure] is not None, (figure, steady)  # its cost, from /proc
    assert steady["false_disconnected"] == 0, result["false_disconnected_examples"]
    drivers = steady["drivers"]
    assert drivers["authorized"] > 0 and drivers["progress_relayed"] > 0, drivers
    assert drivers["unsealable"] == 0 and drivers["unopened"] == 0, drivers

    storm = result["storm"]  # Central SIGKILLed and restarted: every CP reconnects
    assert storm["authenticated_before"] == cps and storm["all_back"], storm
    assert storm["sessions"]["tls_full_handshakes"] >= cps, storm["sessions"]
    reauthorized = storm["heartbeats_reauthorized"]
    assert reauthorized["due"] > 0 and reauthorized["answered"] == reauthorized["due"]
    assert result["false_disconnected_total"] == 0, result["false_disconnected_examples"]
