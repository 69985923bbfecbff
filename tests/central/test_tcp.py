"""Central's TCP side against a real running runtime, with Kafka down all along (which also
proves Central serves monitors without a broker)."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from central_app.config import CentralConfig
from central_app.runtime import CentralRuntime
from tests.central.conftest import (
    Recorder,
    client,
    raw_frame,
    raw_session,
    register_and_auth,
    status_of,
)
from tests.waiting import wait_for
from wire.errors import SessionError
from wire.tcp_messages import (
    AdminState,
    Alive,
    Auth,
    EngineHealth,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Recovered,
    Register,
    Registered,
    Rejected,
)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes; fails if it stays open past timeout."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection still open after {timeout}s (got {data!r})")


def assert_still_serving(runtime: CentralRuntime, cp_id: str) -> None:
    """A new monitor registers, authenticates and heartbeats, and its CP shows ACTIVE."""
    c = client(runtime)
    try:
        register_and_auth(c, cp_id)
        assert isinstance(c.request(Heartbeat(cp_id, EngineHealth.OK)), Alive)
        wait_for(lambda: status_of(runtime, cp_id) == "ACTIVE", 5, f"{cp_id} ACTIVE")
    finally:
        c.close()


def test_kafka_down_is_reported_and_monitors_are_served(
    central: CentralRuntime, recorder: Recorder
) -> None:
    wait_for(lambda: recorder.links, 5, "a link status")
    assert recorder.links[-1].kafka_up is False
    assert recorder.links[-1].database_ok is True
    assert_still_serving(central, "CP-T1")


def test_seeded_cps_start_disconnected(central: CentralRuntime) -> None:
    views = central.snapshot()
    assert len(views) >= 12
    assert all(v.status.value == "DISCONNECTED" for v in views)


def test_full_monitor_session_and_states(central: CentralRuntime) -> None:
    c = client(central)
    try:
        register_and_auth(c, "CP-01")  # a seeded CP: first REGISTER succeeds
        assert c.request(Heartbeat("CP-01", EngineHealth.OK)) == Alive("CP-01", AdminState.ACTIVE)
        assert status_of(central, "CP-01") == "ACTIVE"
        assert c.request(Fault("CP-01", "overheating")) == Noted("CP-01", "FAULT")
        assert status_of(central, "CP-01") == "BROKEN"
        assert c.request(Recovered("CP-01")) == Noted("CP-01", "RECOVERED")
        assert status_of(central, "CP-01") == "ACTIVE"
        c.request(Heartbeat("CP-01", EngineHealth.UNREACHABLE))
        assert status_of(central, "CP-01") == "BROKEN"
        c.request(Heartbeat("CP-01", EngineHealth.OK))
        central.stop_cp("CP-01").result(5)  # posted: wait until applied
        assert status_of(central, "CP-01") == "STOPPED"
        assert c.request(Heartbeat("CP-01", EngineHealth.OK)) == Alive("CP-01", AdminState.STOPPED)
        central.resume_cp("CP-01").result(5)
        assert c.request(Heartbeat("CP-01", EngineHealth.OK)) == Alive("CP-01", AdminState.ACTIVE)
        # a second REGISTER of the same id is refused
        again = c.request(Register("CP-01", "Old Town", None, None))
        assert isinstance(again, Rejected) and "already registered" in again.reason
    finally:
        c.close()
    wait_for(lambda: status_of(central, "CP-01") == "DISCONNECTED", 5, "DISCONNECTED on close")


def test_requests_before_auth_and_bad_credentials(central: CentralRuntime) -> None:
    c = client(central)
    try:
        assert isinstance(c.request(Heartbeat("CP-02", EngineHealth.OK)), Error)
        assert isinstance(c.request(Fault("CP-02", "x")), Error)
        rejected = c.request(Auth("CP-02", "not-the-credential"))
        assert isinstance(rejected, Rejected)
        assert isinstance(c.request(Auth("CP-404", "x")), Rejected)
        registered = c.request(Register("CP-02", "", None, None))
        assert isinstance(registered, Registered)
        assert isinstance(
            c.request(Heartbeat("CP-02", EngineHealth.OK)), Error
        )  # REGISTER is not AUTH
        c.request(Auth("CP-02", registered.credential))
        assert isinstance(c.request(Heartbeat("CP-03", EngineHealth.OK)), Error)  # not its own id
        assert isinstance(c.request(Heartbeat("CP-02", EngineHealth.OK)), Alive)
    finally:
        c.close()


def test_new_auth_replaces_the_old_connection(central: CentralRuntime) -> None:
    first = client(central)
    credential = register_and_auth(first, "CP-R1")
    second = client(central)
    try:
        second.request(Auth("CP-R1", credential))
        assert isinstance(second.request(Heartbeat("CP-R1", EngineHealth.OK)), Alive)

        def old_is_dead() -> bool:
            try:
                first.request(Heartbeat("CP-R1", EngineHealth.OK))
            except SessionError:
                return True
            return False

        wait_for(old_is_dead, 5, "the replaced connection to be closed")
        assert status_of(central, "CP-R1") == "ACTIVE"  # closing the old one did not disconnect
    finally:
        first.close()
        second.close()


def test_disconnected_3_s_after_heartbeats_stop_on_an_open_socket(central: CentralRuntime) -> None:
    c = client(central)
    try:
        register_and_auth(c, "CP-H1")
        c.request(Heartbeat("CP-H1", EngineHealth.OK))
        silent_since = time.monotonic()
        assert status_of(central, "CP-H1") == "ACTIVE"
        wait_for(lambda: status_of(central, "CP-H1") == "DISCONNECTED", 6, "DISCONNECTED")
        elapsed = time.monotonic() - silent_since
        assert 2.8 <= elapsed <= 4.5, elapsed
        # the hung monitor wakes up: the same connection brings the CP back
        c.request(Heartbeat("CP-H1", EngineHealth.OK))
        assert status_of(central, "CP-H1") == "ACTIVE"
    finally:
        c.close()


def test_bad_lrc_is_nacked_and_the_resend_is_served(central: CentralRuntime) -> None:
    sock = raw_session(central)
    try:
        sock.sendall(raw_frame("REGISTER#CP-L1#Harbour#700#600", bad_lrc=True))
        assert sock.recv(1) == b"\x15"
        sock.sendall(raw_frame("REGISTER#CP-L1#Harbour#700#600"))
        assert sock.recv(1) == b"\x06"
        data = b""
        while not (len(data) >= 2 and data[-2:-1] == b"\x03"):
            data += sock.recv(4096)
        assert data.startswith(b"\x02REGISTERED#CP-L1#")
    finally:
        sock.close()


def test_garbage_is_nacked_then_closed_while_others_are_served(central: CentralRuntime) -> None:
    sock = raw_session(central)
    try:
        sock.sendall(b"\x01\x07garbage")
        got = read_until_closed(sock, 5)
        assert b"\x15" in got
    finally:
        sock.close()
    assert_still_serving(central, "CP-G1")


def test_oversized_frame_closes_the_connection(central: CentralRuntime) -> None:
    sock = raw_session(central)
    try:
        sock.sendall(b"\x02" + b"A" * 5000)
        read_until_closed(sock, 5)
    finally:
        sock.close()
    assert_still_serving(central, "CP-O1")


def test_stalled_half_frame_is_closed_while_others_are_served(central: CentralRuntime) -> None:
    sock = raw_session(central)
    try:
        sock.sendall(b"\x02HEARTBEAT#CP-0")
        started = time.monotonic()
        others = threading.Thread(target=assert_still_serving, args=(central, "CP-S1"))
        others.start()
        others.join(timeout=10)
        assert not others.is_alive()
        served_after = time.monotonic() - started
        read_until_closed(sock, 8)
        closed_after = time.monotonic() - started
        assert served_after < 4.0 < closed_after, (served_after, closed_after)
    finally:
        sock.close()


def test_200_concurrent_monitors(central: CentralRuntime) -> None:
    count = 200
    barrier = threading.Barrier(count)

    def monitor(i: int) -> int:
        cp_id = f"CP-M{i:03d}"
        barrier.wait(timeout=30)
        c = client(central, timeout=30)
        try:
            register_and_auth(c, cp_id)
            alive = 0
            for _ in range(3):
                alive += isinstance(c.request(Heartbeat(cp_id, EngineHealth.OK)), Alive)
            return alive
        finally:
            c.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(monitor, range(count), timeout=90))
    assert results == [3] * count
    assert sum(1 for v in central.snapshot() if v.cp_id.startswith("CP-M")) == count


@pytest.mark.parametrize("payload", [b"\x02\x03\x00", b"\x02NOPE#x\x03" + bytes([0x00])])
def test_malformed_text_gets_error_or_nack(central: CentralRuntime, payload: bytes) -> None:
    sock = raw_session(central)
    try:
        sock.sendall(payload)
        first = sock.recv(1)
        assert first in (b"\x06", b"\x15")
    finally:
        sock.close()


def test_stop_all_resume_all_and_admin_state_survives_a_restart(
    central: CentralRuntime, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    a, b = client(central), client(central)
    try:
        register_and_auth(a, "CP-A1")
        register_and_auth(b, "CP-B1")
        central.stop_all().result(5)
        assert {status_of(central, "CP-A1"), status_of(central, "CP-B1")} == {"STOPPED"}
        assert all(v.status.value in ("STOPPED", "DISCONNECTED") for v in central.snapshot())
        assert a.request(Heartbeat("CP-A1", EngineHealth.OK)) == Alive("CP-A1", AdminState.STOPPED)
        central.resume_all().result(5)
        assert b.request(Heartbeat("CP-B1", EngineHealth.OK)) == Alive("CP-B1", AdminState.ACTIVE)
        central.stop_cp("CP-B1").result(5)
    finally:
        a.close()
        b.close()

    again = CentralRuntime(
        CentralConfig(
            port=0,
            host="127.0.0.1",
            kafka=central.config.kafka,
            db_url=central.config.db_url,
            insecure=True,
        )
    )
    central.stop()
    again.start()
    try:
        views = {v.cp_id: v for v in again.snapshot()}
        assert views["CP-B1"].admin_state == "STOPPED" and views["CP-A1"].admin_state == "ACTIVE"
        assert all(v.status.value == "DISCONNECTED" for v in views.values())
    finally:
        again.stop()
