"""The monitor's link to Central under trouble: lost and slow answers, restarts, registration.

In-process: a ``MonitorService`` (no engine: its health is UNREACHABLE, which does not
matter here) against the test Central, and ``CentralClient`` against a scripted socket.
Everything waits on conditions with deadlines; the only sleeps are a scripted Central being
slow on purpose.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cp_core.credentials import CredentialStore
from cp_core.enrollment import EnrollToken, EnrollTokenError, TokenFolder, refusal
from cp_core.monitor_state import Backoff
from cp_node.monitor_service import MonitorService
from tests.cp.fake_central import FakeCentral, Seen
from tests.procs import free_port
from tests.raw_framed import ScriptedCentral
from tests.waiting import wait_for
from wire.errors import ResponseTimeout
from wire.framing import Control, Frame, encode_frame
from wire.health import HealthResponder
from wire.health_messages import EngineState, Health, HealthOk
from wire.pki import write_private
from wire.tcp_client import CONNECT_TIMEOUT, RESPONSE_TIMEOUT, CentralClient
from wire.tcp_messages import AdminState, Alive, Auth, EngineHealth, Heartbeat, Register

CP = "CP-T"


@dataclass
class RecordingBackoff(Backoff):
    delays: list[float] = field(default_factory=list)

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


@dataclass
class Running:
    service: MonitorService
    lines: list[str]
    store: CredentialStore

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


@pytest.fixture
def run_monitor(central: FakeCentral, tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[MonitorService] = []

    def start(**options: object) -> Running:
        lines: list[str] = []
        store = CredentialStore(tmp_path / "creds")
        options = {"interval": 0.2, "health_timeout_ms": 100, "rng": lambda: 0.5, **options}
        engine_port = options.pop("engine_port", None) or free_port()  # default: nobody there
        service = MonitorService(
            cp_id=CP,
            engine=("127.0.0.1", engine_port),
            central=("127.0.0.1", central.port),
            credentials=store,
            location="Test street 1",
            say=lines.append,
            **options,  # type: ignore[arg-type]
        )
        service.start()
        started.append(service)
        return Running(service, lines, store)

    yield start
    for service in started:
        service.close()


def requests_after(central: FakeCentral, seen: Seen) -> list[Seen]:
    return [s for s in list(central.seen) if s.at > seen.at]


# --- the first heartbeat -------------------------------------------------------------------------


def test_a_healthy_cp_does_not_flash_broken_when_its_monitor_starts(
    central: FakeCentral, run_monitor
) -> None:
    """The first HEARTBEAT waits for the first health check instead of saying UNREACHABLE
    (Central turned every starting CP BROKEN for a second). The engine answers its first check
    slowly on purpose, so the session is open before the monitor knows the engine's health."""
    first_answered = threading.Event()

    def answer(request: Health) -> HealthOk:
        if not first_answered.is_set():
            time.sleep(0.3)  # an engine still busy starting: slow, but within the time-out
            first_answered.set()
        return HealthOk(request.cp_id, EngineState.IDLE)

    stop = threading.Event()
    with HealthResponder(0, answer, host="127.0.0.1") as engine:
        serving = threading.Thread(target=engine.serve, args=(stop,), daemon=True)
        serving.start()
        try:
            run_monitor(engine_port=engine.port, health_timeout_ms=1000)
            wait_for(lambda: central.requests(Heartbeat, CP)[2:], 10, "three heartbeats")
            engines = [s.request.engine for s in central.requests(Heartbeat, CP)]
            assert engines[:3] == [EngineHealth.OK] * 3, engines
        finally:
            stop.set()
            serving.join(5)


# --- timeouts and back-off ---------------------------------------------------------------------


def test_defaults_tolerate_a_loaded_central() -> None:
    client = CentralClient("127.0.0.1", 1)
    assert (client.connect_timeout, client.response_timeout) == (5.0, 10.0)
    assert (CONNECT_TIMEOUT, RESPONSE_TIMEOUT) == (5.0, 10.0)
    service = MonitorService(
        cp_id=CP, engine=("h", 1), central=("h", 2), credentials=CredentialStore("/nonexistent")
    )
    assert (service.connect_timeout, service.response_timeout) == (5.0, 10.0)
    assert (service.backoff.base, service.backoff.cap) == (0.2, 5.0)
    assert service.interval == 1.0 and service.health_timeout_ms == 500  # unchanged


def test_reconnects_with_growing_jittered_backoff_reset_by_a_working_session(
    central: FakeCentral, run_monitor
) -> None:
    central.stop()  # Central is down when the monitor starts
    backoff = RecordingBackoff(base=0.01, cap=0.04, random=lambda: 1.0)
    mon = run_monitor(backoff=backoff)
    wait_for(lambda: len(backoff.delays) >= 5, 10, "five failed attempts")
    assert backoff.delays[:5] == pytest.approx([0.01, 0.02, 0.04, 0.04, 0.04])
    assert mon.said(f"Cannot reach CENTRAL at 127.0.0.1:{central.port}")
    central.start()
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "a heartbeat once Central is back")
    wait_for(lambda: backoff.failures == 0, 5, "the back-off reset by an answered heartbeat")
    before = len(backoff.delays)
    central.stop()
    wait_for(lambda: len(backoff.delays) > before, 10, "a failure after the restart")
    assert backoff.delays[before] == pytest.approx(0.01)  # starts over, not at the ceiling


def _slow_heartbeat(
    central: FakeCentral,
    run_monitor: Callable[..., Running],
    *,
    response_timeout: float,
    delay: float,
) -> tuple[Running, Seen]:
    """A monitor waiting ``response_timeout`` for answers, once it beats, is answered its
    next heartbeat ``delay`` s late; returns the monitor and that slow exchange."""
    mon = run_monitor(response_timeout=response_timeout)
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "first heartbeat")
    central.delay_response("HEARTBEAT", delay)
    wait_for(lambda: central.delayed, 5, f"a heartbeat answered {delay} s late")
    return mon, central.delayed[0]


def test_a_response_timeout_closes_and_reconnects_instead_of_resending(
    central: FakeCentral, run_monitor
) -> None:
    mon, slow = _slow_heartbeat(central, run_monitor, response_timeout=0.3, delay=1.5)
    wait_for(lambda: requests_after(central, slow), 5, "the next request")
    later = requests_after(central, slow)
    assert isinstance(later[0].request, Auth), later[0]  # a new session starts from AUTH
    assert all(s.peer != slow.peer for s in later)  # nothing more on the slow connection
    assert mon.said("the response did not come within 0.3 s")
    wait_for(lambda: central.requests(Heartbeat, CP, later[0].at), 5, "heartbeats again")


def test_a_slow_answer_within_the_timeout_is_not_a_failure(
    central: FakeCentral, run_monitor
) -> None:
    mon, slow = _slow_heartbeat(central, run_monitor, response_timeout=3.0, delay=0.8)
    wait_for(lambda: central.requests(Heartbeat, CP, slow.at + 0.01)[2:], 5, "3 more heartbeats")
    assert len(central.requests(Auth, CP)) == 1  # the same session throughout
    assert all(s.peer == slow.peer for s in requests_after(central, slow))
    assert not mon.said("Cannot reach CENTRAL")


# --- retry-safe registration (the claim) ---------------------------------------------------------


def test_lost_register_response_is_retried_with_the_same_saved_claim(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    store = CredentialStore(tmp_path / "creds")
    on_disk: list[str | None] = []
    central.inspect = lambda r: (
        on_disk.append(store.load_claim(CP)) if isinstance(r, Register) else None
    )
    central.lose_response("REGISTER")  # Central registers the CP, then the connection drops
    mon = run_monitor()
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "heartbeats after registration")
    registers = central.requests(Register, CP)
    assert len(registers) == 2
    claim = registers[0].request.claim
    assert len(claim) >= 43  # secrets.token_urlsafe(32)
    assert registers[1].request.claim == claim
    assert registers[0].peer != registers[1].peer  # retried on a new connection
    assert on_disk == [claim, claim]  # saved before REGISTER was sent
    assert store.load(CP) == central.credentials[CP] and CP in central.used
    assert not store.claim_path(CP).exists()  # AUTH succeeded: the claim is no longer needed
    assert mon.said("Registered at Central")
    assert not mon.said("already registered")


def test_register_answered_after_the_timeout_is_retried_with_the_same_claim(
    central: FakeCentral, run_monitor
) -> None:
    central.delay_response("REGISTER", 1.5)
    mon = run_monitor(response_timeout=0.3)
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "heartbeats after registration")
    first, second = central.requests(Register, CP)
    assert first.request.claim == second.request.claim and first.peer != second.peer
    assert mon.store.load(CP) == central.credentials[CP]


def test_lost_auth_response_after_registration_needs_no_new_register(
    central: FakeCentral, run_monitor
) -> None:
    central.lose_response("AUTH")  # the credential is stored and used, the answer lost
    mon = run_monitor()
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "heartbeats")
    assert len(central.requests(Register, CP)) == 1
    assert len(central.requests(Auth, CP)) == 2
    assert not mon.store.claim_path(CP).exists()


def test_without_the_claim_nobody_takes_a_registered_id_over(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    central.lose_response("REGISTER")
    central.lose_response("REGISTER")
    first = run_monitor()
    wait_for(lambda: len(central.requests(Register, CP)) == 2, 10, "two REGISTERs")
    first.service.close()  # the CP's monitor stops before it got its credential
    assert first.store.load_claim(CP) is not None  # kept: the next run retries with it
    intruder = CredentialStore(tmp_path / "other")
    intruder_service = MonitorService(
        cp_id=CP,
        engine=("127.0.0.1", free_port()),
        central=("127.0.0.1", central.port),
        credentials=intruder,
        say=(lines := []).append,
        rng=lambda: 0.5,
        auth_retry=60,
    )
    intruder_service.start()
    try:
        wait_for(lambda: any("already registered" in line for line in lines), 10, "refusal")
    finally:
        intruder_service.close()
    assert intruder.load(CP) is None
    again = run_monitor()  # the real CP's monitor again: same claim, now it gets through
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "heartbeats")
    assert again.store.load(CP) == central.credentials[CP]


def test_the_claim_file_is_private_durable_and_stable(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "creds")
    assert store.load_claim(CP) is None
    claim = store.claim(CP)
    assert store.claim(CP) == claim == store.load_claim(CP)
    path = store.claim_path(CP)
    assert path.name == f"{CP}.claim"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{CP}.claim"]  # no temp file
    store.forget_claim(CP)
    store.forget_claim(CP)  # twice is fine
    assert store.load_claim(CP) is None
    assert store.claim(CP) != claim  # a new registration, a new claim
    path.write_text("not#a claim\n")
    fresh = store.claim(CP)
    assert fresh != "not#a claim" and store.load_claim(CP) == fresh


def test_an_unwritable_credential_folder_sends_no_register(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    (tmp_path / "creds").write_text("a file where the folder should be")
    mon = run_monitor(auth_retry=60)
    wait_for(lambda: mon.said("Cannot use the credential folder"), 10, "the problem shown")
    assert central.requests(Register, CP) == []


# --- enrollment tokens and revocation (docs/cp.md, "Enrollment") --------------------------------


def refusals(mon: Running) -> list[str]:
    return [line for line in list(mon.lines) if "Central refuses" in line]


def test_a_new_cp_without_a_token_is_refused_once_in_words_then_a_dropped_token_file_lets_it_in(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    """A secured Central wants the operator's token. The monitor says so once (not at every
    retry), retries at the auth-retry pace (not faster), and reads the token file again before
    each REGISTER: a file dropped while it runs is used without a restart."""
    central.tokens = {}
    token_file = tmp_path / "CP-T.token"
    mon = run_monitor(auth_retry=0.3, enroll_token=EnrollToken(path=token_file))
    wait_for(lambda: len(central.requests(Register, CP)) >= 4, 15, "four refused REGISTERs")
    assert len(refusals(mon)) == 1, mon.lines
    line = refusals(mon)[0]
    assert "one-time enrollment token" in line and "evc-admin cp enroll CP-T" in line
    assert f"put it in {token_file}" in line
    registers = central.requests(Register, CP)
    assert all(r.request.token == "" for r in registers)
    gaps = [b.at - a.at for a, b in zip(registers, registers[1:], strict=False)]
    assert min(gaps) >= 0.3 * 0.5 * 0.9, gaps  # spread(auth_retry): never a tight loop
    assert not central.requests(Heartbeat, CP)

    token = central.issue_token(CP)
    write_private(token_file, f"# evc-admin cp enroll {CP}\n{token}\n".encode())
    wait_for(lambda: central.requests(Heartbeat, CP), 15, "heartbeats once enrolled")
    assert central.requests(Register, CP)[-1].request.token == token
    assert mon.store.load(CP) == central.credentials[CP]
    assert len(refusals(mon)) == 1


def test_a_used_token_is_said_to_be_invalid(central: FakeCentral, run_monitor) -> None:
    central.tokens = {}
    central.issue_token(CP)  # the operator issued one, but the monitor got an older one
    stale = EnrollToken.parse("A" * 43)
    mon = run_monitor(auth_retry=60, enroll_token=stale)
    wait_for(lambda: refusals(mon), 10, "the refusal")
    assert "enrollment token is not valid" in refusals(mon)[0]
    assert "restart the monitor with --enroll-token @FILE" in refusals(mon)[0]
    assert central.requests(Register, CP)[0].request.token == "A" * 43


def test_a_revoked_cp_stays_out_until_re_admitted_then_comes_back_by_itself(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    """The issue's scenario: revoked, the monitor's AUTH and its REGISTER (with the token it
    registered with, now used) are refused; it says so once and keeps retrying; once the
    operator re-admits it (a new token in the file the monitor points to) it is back."""
    central.tokens = {}
    token_file = tmp_path / "CP-T.token"
    write_private(token_file, central.issue_token(CP).encode())
    mon = run_monitor(auth_retry=0.3, enroll_token=EnrollToken(path=token_file))
    wait_for(lambda: central.requests(Heartbeat, CP), 10, "heartbeats")
    first = mon.store.load(CP)

    revoked_at = time.monotonic()
    central.revoke(CP)
    wait_for(
        lambda: len(central.requests(Register, CP, since=revoked_at)) >= 4, 15, "refused retries"
    )
    assert not central.requests(Heartbeat, CP, since=revoked_at + 0.1)
    assert len(refusals(mon)) == 1, mon.lines
    line = refusals(mon)[0]
    assert "revoked by the operator" in line and "evc-admin cp enroll CP-T" in line
    auths = central.requests(Auth, CP, since=revoked_at)
    assert len(auths) >= 4 and all(a.request.credential == first for a in auths)

    readmitted_at = time.monotonic()
    write_private(token_file, central.issue_token(CP).encode())  # the operator re-admits it
    wait_for(lambda: central.requests(Heartbeat, CP, since=readmitted_at), 15, "back")
    assert mon.store.load(CP) == central.credentials[CP] != first
    assert mon.said("Connected to CENTRAL")


def test_an_unreadable_token_file_is_said_and_sends_no_register(
    central: FakeCentral, run_monitor, tmp_path: Path
) -> None:
    central.tokens = {}
    folder = tmp_path / "token-is-a-folder"
    folder.mkdir()
    mon = run_monitor(auth_retry=60, enroll_token=EnrollToken(path=folder))
    wait_for(lambda: mon.said("Cannot read the enrollment token file"), 10, "the problem")
    assert central.requests(Register, CP) == []


def test_the_enroll_token_option(tmp_path: Path) -> None:
    assert EnrollToken.parse("") == EnrollToken() and not EnrollToken().given
    assert EnrollToken.parse(None).read() == ""
    token = "x" * 43
    assert EnrollToken.parse(token).read() == token
    path = tmp_path / "t.token"
    given = EnrollToken.parse(f"@{path}")
    assert given.path == path and given.read() == ""  # not there yet: no token
    path.write_text(f"# comment\n\n  {token}  \n")
    assert given.read() == token
    path.write_text("not a token at all\n")
    with pytest.raises(EnrollTokenError, match="holds no token"):
        given.read()
    for bad in ("@", "has#hash", "short"):
        with pytest.raises(ValueError):
            EnrollToken.parse(bad)
    assert TokenFolder(tmp_path).path("OCPP-01") == tmp_path / "OCPP-01.token"
    assert refusal("CP-1", "already registered", EnrollToken(), sent=False) is None


# --- CentralClient: one frame per request ------------------------------------------------------


ACK = bytes([Control.ACK])
ALIVE = encode_frame(Alive(CP, AdminState.ACTIVE).to_bytes())
BEAT = Heartbeat(CP, EngineHealth.OK)


def test_client_never_resends_on_timeout_it_closes() -> None:
    def script(conn, next_event):
        assert isinstance(next_event(), Frame)  # no ACK, no answer: read until closed
        assert next_event() is None

    central = ScriptedCentral(script, handshake=True)
    client = CentralClient("127.0.0.1", central.port, response_timeout=0.3)
    client.connect()
    with pytest.raises(ResponseTimeout, match="the ACK of the request did not come"):
        client.request(BEAT)
    assert not client.connected
    central.join()
    assert len(central.frames()) == 1


def test_client_ack_and_response_share_one_deadline() -> None:
    def script(conn, next_event):
        assert isinstance(next_event(), Frame)
        time.sleep(0.4)  # a loaded Central: slow to ACK ...
        conn.sendall(ACK)
        time.sleep(0.4)  # ... and slow to answer: 0.8 s in all
        conn.sendall(ALIVE)
        next_event()

    central = ScriptedCentral(script, handshake=True)
    client = CentralClient("127.0.0.1", central.port, response_timeout=0.6)
    client.connect()
    with pytest.raises(ResponseTimeout, match="the response did not come within 0.6 s"):
        client.request(BEAT)
    central.join()
    assert len(central.frames()) == 1

    central = ScriptedCentral(script, handshake=True)
    patient = CentralClient("127.0.0.1", central.port, response_timeout=3.0)
    patient.connect()
    assert patient.request(BEAT) == Alive(CP, AdminState.ACTIVE)  # slow is not a failure
    patient.close()
    central.join()
    assert len(central.frames()) == 1
