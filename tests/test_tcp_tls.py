"""TLS on the monitor ⇄ Central link (docs/security.md, layer 4): a real ``FramedServer`` with
TLS on uvloop and asyncio, the blocking ``CentralClient`` verifying it, and the real EV_CP_M
refusing a Central it does not trust."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_app.config import CentralConfig, StartError
from central_app.runtime import CentralRuntime
from tests.procs import run_module
from tests.test_tcp_server import LOOPS, Loop
from tests.waiting import wait_for
from wire.errors import UntrustedCertificate
from wire.pki import Secrets
from wire.tcp_client import CentralClient
from wire.tcp_messages import (
    AdminState,
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Error,
    Heartbeat,
    Register,
    Registered,
    Request,
)
from wire.tcp_server import Connection
from wire.tls import client_context, server_context

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=sorted(LOOPS))
def loop(request) -> Iterator[Loop]:
    running = Loop(LOOPS[request.param])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    """Another network's secrets: a CA (and a Central certificate) we must not trust."""
    secrets = Secrets(tmp_path_factory.mktemp("other-secrets"))
    secrets.init()
    return secrets


class Recording:
    """A small Central: REGISTER, AUTH, HEARTBEAT; remembers every request and session."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.closed: list[Connection] = []
        self.lock = threading.Lock()

    def __call__(self, conn: Connection, request: Request):
        with self.lock:
            self.requests.append(request)
        if isinstance(request, Register):
            return Registered(request.cp_id, "s3cret", 0.35)
        if isinstance(request, Auth):
            conn.cp_id = request.cp_id
            return Authorized(request.cp_id, 0.35, AdminState.ACTIVE)
        if isinstance(request, Heartbeat):
            return Alive(request.cp_id, AdminState.ACTIVE)
        return Error("unexpected")

    def on_close(self, conn: Connection) -> None:
        with self.lock:
            self.closed.append(conn)


def tls_server(loop: Loop, secrets: Secrets, recording: Recording, **options):
    context = server_context(secrets.cert("central"), secrets.key("central"))
    return loop.serve(recording, ssl=context, on_close=recording.on_close, **options)


def test_a_verifying_client_registers_authenticates_and_beats_over_tls(
    loop: Loop, tls_secrets: Secrets
) -> None:
    recording = Recording()
    server = tls_server(loop, tls_secrets, recording)
    client = CentralClient("127.0.0.1", server.port, ssl=client_context(tls_secrets.ca_cert))
    with client:
        registered = client.request(Register("CP-T1", "Harbour", 1.0, 2.0))
        assert registered == Registered("CP-T1", "s3cret", 0.35)
        assert client.request(Auth("CP-T1", "s3cret")) == Authorized(
            "CP-T1", 0.35, AdminState.ACTIVE
        )
        for _ in range(3):
            assert client.request(Heartbeat("CP-T1", EngineHealth.OK)) == Alive(
                "CP-T1", AdminState.ACTIVE
            )
    assert [r.OPCODE for r in recording.requests] == ["REGISTER", "AUTH", *["HEARTBEAT"] * 3]
    assert not client.tls_resumed and client.tls_session is not None
    # reconnecting to the same server process resumes the TLS session
    client.connect()
    try:
        assert client.tls_resumed
        assert client.request(Heartbeat("CP-T1", EngineHealth.OK)) == Alive(
            "CP-T1", AdminState.ACTIVE
        )
    finally:
        client.close()


def test_a_client_with_another_ca_refuses_and_sends_nothing(
    loop: Loop, tls_secrets: Secrets, other_ca: Secrets
) -> None:
    recording = Recording()
    server = tls_server(loop, tls_secrets, recording)
    client = CentralClient("127.0.0.1", server.port, ssl=client_context(other_ca.ca_cert))
    with pytest.raises(UntrustedCertificate, match="Central's certificate is not trusted: "):
        client.connect()
    assert not client.connected
    wait_for(lambda: recording.closed, 5, "the server to close the refused connection")
    assert recording.requests == []
    assert not any(conn.session_open for conn in recording.closed)  # not even an ENQ


def test_a_wrong_host_name_is_refused(loop: Loop, tls_secrets: Secrets) -> None:
    recording = Recording()
    server = tls_server(loop, tls_secrets, recording)
    client = CentralClient(
        "127.0.0.1",
        server.port,
        ssl=client_context(tls_secrets.ca_cert),
        server_hostname="central.example",
    )
    with pytest.raises(UntrustedCertificate, match="central.example"):
        client.connect()
    assert recording.requests == []


def test_plaintext_and_garbage_are_closed_quietly_while_tls_clients_are_served(
    loop: Loop, tls_secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recording = Recording()
    server = tls_server(loop, tls_secrets, recording)
    good = CentralClient("127.0.0.1", server.port, ssl=client_context(tls_secrets.ca_cert))
    with good:
        for payload in (b"\x05\x02HEARTBEAT#CP-1#OK\x03\x00", b"GET / HTTP/1.0\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
                plain.sendall(payload)
                started = time.monotonic()
                received = b""
                try:
                    while chunk := plain.recv(4096):
                        received += chunk
                except ConnectionResetError:
                    pass
                assert time.monotonic() - started < 3
                assert b"\x06" not in received  # never a session
            assert good.request(Heartbeat("CP-G", EngineHealth.OK)) == Alive(
                "CP-G", AdminState.ACTIVE
            )
    assert [r.OPCODE for r in recording.requests] == ["HEARTBEAT", "HEARTBEAT"]
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG and r.name != "wire.tcp_server"]
    assert not loud, [r.getMessage() for r in loud]
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02"], ids=["silent", "partial-hello"])
def test_a_stalled_handshake_is_closed_within_the_stall_deadline(
    loop: Loop, tls_secrets: Secrets, sent: bytes
) -> None:
    recording = Recording()
    server = tls_server(loop, tls_secrets, recording, stall_timeout=0.5, idle_timeout=5.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stalled:
        stalled.sendall(sent)
        started = time.monotonic()
        try:
            while stalled.recv(4096):
                pass
        except ConnectionResetError:
            pass
        took = time.monotonic() - started
    assert took < 0.5 + 1.0, f"closed after {took:.2f} s"
    wait_for(lambda: not server.connections, 5, "the stalled connection to be forgotten")


def test_central_refuses_to_start_with_unusable_tls_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    runtime = CentralRuntime(
        CentralConfig(
            port=0,
            host="127.0.0.1",
            kafka="127.0.0.1:1",
            db_url=f"sqlite:///{tmp_path / 'c.db'}",
            tls_cert=missing,
            tls_key=tmp_path / "nope.key",
        )
    )
    with pytest.raises(StartError, match=f"TLS certificate {missing} does not exist"):
        runtime.start()
    runtime.stop()
    (tmp_path / "bad.pem").write_text("not a certificate")
    bad = CentralRuntime(
        CentralConfig(
            port=0,
            host="127.0.0.1",
            kafka="127.0.0.1:1",
            db_url=f"sqlite:///{tmp_path / 'c.db'}",
            tls_cert=tmp_path / "bad.pem",
            tls_key=tmp_path / "bad.pem",
        )
    )
    with pytest.raises(StartError, match="cannot use the TLS certificate"):
        bad.start()
    bad.stop()


@pytest.mark.process
def test_programs_without_tls_files_say_what_to_do(tmp_path: Path) -> None:
    # a secrets directory with everything but Central's certificate
    secrets = Secrets(tmp_path / "secrets")
    secrets.init()
    for path in (secrets.cert("central"), secrets.key("central")):
        path.unlink()
    empty = {"EVC_SECRETS": str(secrets.root)}
    central = run_module(
        "central_app.main", "--port", "0", "--kafka", "127.0.0.1:1", "--no-gui", env=empty
    )
    assert central.returncode == 2, central
    assert "evc-secrets init" in central.stderr and "--insecure" in central.stderr
    assert "Traceback" not in central.stderr + central.stdout
    monitor = run_module(
        "cp_node.monitor_main",
        "--engine",
        "127.0.0.1:1",
        "--central",
        "127.0.0.1:2",
        "--cp-id",
        "CP-1",
        env={"EVC_SECRETS": str(tmp_path / "no-secrets")},
    )
    assert monitor.returncode == 2, monitor
    assert "ca.pem" in monitor.stderr and "--insecure" in monitor.stderr
    assert "Traceback" not in monitor.stderr + monitor.stdout


@pytest.mark.process
def test_the_monitor_refuses_a_central_it_does_not_trust(
    tmp_path: Path, tls_secrets: Secrets, other_ca: Secrets
) -> None:
    """EV_CP_M (a real process) trusts tls_secrets' CA; Central presents other_ca's certificate."""
    loop = Loop(LOOPS["uvloop"])
    recording = Recording()
    monitor: subprocess.Popen[str] | None = None
    try:
        server = tls_server(loop, other_ca, recording)
        monitor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cp_node.monitor_main",
                "--engine",
                "127.0.0.1:1",
                "--central",
                f"127.0.0.1:{server.port}",
                "--cp-id",
                "CP-U1",
                "--credentials-dir",
                str(tmp_path / "creds"),
                "--central-ca",
                str(tls_secrets.ca_cert),
                "--curve-dir",
                str(tmp_path / "curve"),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        # several attempts (the back-off retries), each refused before anything was sent
        wait_for(lambda: len(recording.closed) >= 3, 30, "three refused attempts")
    finally:
        if monitor is not None:
            monitor.terminate()
            output = monitor.communicate(timeout=20)[0]
        loop.stop()
    assert recording.requests == []  # no REGISTER, no AUTH
    assert not any(conn.session_open for conn in recording.closed)
    said = [line for line in output.splitlines() if "do not trust" in line]
    assert len(said) == 1, output  # once per series of attempts, not once per attempt
    assert f"Central at 127.0.0.1:{server.port} presented a certificate we do not trust" in said[0]
    assert "unable to get local issuer certificate" in said[0]
    assert "not connecting" in said[0]
    assert "Traceback" not in output
