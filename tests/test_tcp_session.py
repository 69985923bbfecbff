"""Framed TCP sessions over real loopback sockets: wire.tcp_server and wire.tcp_client."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.raw_framed import Raw, Script, ScriptedCentral
from tests.waiting import wait_for
from wire.aio import new_event_loop
from wire.errors import (
    ConnectionLost,
    HandshakeRefused,
    ResponseTimeout,
    TooManyAttempts,
    WireError,
)
from wire.framing import Control, ControlByte, Frame, encode_frame, lrc
from wire.tcp_client import CentralClient
from wire.tcp_messages import (
    RESPONSES,
    AdminState,
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Register,
    Registered,
    Rejected,
)
from wire.tcp_server import Connection, FramedServer

ACK, NACK, ENQ, EOT = (bytes([c]) for c in (Control.ACK, Control.NACK, Control.ENQ, Control.EOT))


# -- a real server in a background event loop -----------------------------------------


LOOPS = {"uvloop": new_event_loop, "asyncio": asyncio.new_event_loop}


class ServerThread:
    """Runs a FramedServer on its own event loop in a thread, as Central would."""

    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop], **options) -> None:
        self.closed: list[Connection] = []
        self.by_cp: dict[str, Connection] = {}
        self.loop = loop_factory()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = FramedServer(
            self.handle, host="127.0.0.1", on_close=self.closed.append, **options
        )
        self.port = self.call(self.server.start())

    def call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def handle(self, conn: Connection, request):
        match request:
            case Register(cp_id=cp_id):
                if cp_id == "taken":
                    return Rejected(cp_id, "already registered")
                return Registered(cp_id, f"secret-{cp_id}", 0.35)
            case Auth(cp_id=cp_id):
                old = self.by_cp.get(cp_id)
                if old is not None and old is not conn:
                    old.close()  # a newer AUTH replaces the old connection
                self.by_cp[cp_id] = conn
                conn.cp_id = cp_id
                return Authorized(cp_id, 0.35, AdminState.ACTIVE)
            case Heartbeat(cp_id="boom"):
                raise RuntimeError("handler bug")
            case Heartbeat(cp_id="bad-response"):
                return Rejected("x", "a # in a field")
            case Heartbeat(cp_id=cp_id):
                return Alive(cp_id, AdminState.ACTIVE)
            case Fault(cp_id=cp_id):
                return Noted(cp_id, "FAULT")
        return Error("unexpected")

    def stop(self) -> None:
        try:
            self.call(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@pytest.fixture(params=sorted(LOOPS))
def make_server(request) -> Iterator[Callable[..., ServerThread]]:
    """Every server test runs on uvloop (what Central uses) and on asyncio's loop (the
    fallback where uvloop is missing)."""
    servers: list[ServerThread] = []

    def make(**options) -> ServerThread:
        servers.append(ServerThread(LOOPS[request.param], **options))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server) -> ServerThread:
    return make_server()


@pytest.fixture
def raw_clients() -> Iterator[Callable[[int], Raw]]:
    made: list[Raw] = []

    def make(port: int) -> Raw:
        made.append(Raw(port))
        return made[-1]

    yield make
    for raw in made:
        raw.close()


# -- the happy path -----------------------------------------------------------------


def test_handshake_and_requests(server) -> None:
    with CentralClient("127.0.0.1", server.port) as client:
        assert client.connected
        assert client.request(Register("CP1", "Plaza", 1.0, 2.0)) == Registered(
            "CP1", "secret-CP1", 0.35
        )
        assert client.request(Auth("CP1", "secret-CP1")) == Authorized(
            "CP1", 0.35, AdminState.ACTIVE
        )
        assert client.request(Heartbeat("CP1", EngineHealth.OK)) == Alive("CP1", AdminState.ACTIVE)
        assert client.request(Fault("CP1", "overheating")) == Noted("CP1", "FAULT")
        assert client.request(Register("taken")) == Rejected("taken", "already registered")
        wait_for(lambda: len(server.server.connections) == 1, 5, "the connection to be listed")
        assert server.server.connections[0].cp_id == "CP1"
    assert not client.connected
    wait_for(lambda: len(server.closed) == 1, 5, "on_close after EOT")
    assert server.server.connections == []


def test_last_valid_frame_moves(server) -> None:
    with CentralClient("127.0.0.1", server.port) as client:
        client.request(Auth("CP1", "s"))
        conn = server.by_cp["CP1"]
        before = conn.last_valid_frame
        client.request(Heartbeat("CP1", EngineHealth.OK))
        assert conn.last_valid_frame > before


# -- server side: NACK, errors, closing rules --------------------------------------------


def test_bad_lrc_gets_nack_and_the_resend_is_answered(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    data = Heartbeat("CP1", EngineHealth.OK).to_bytes()
    raw.send(bytes([Control.STX]) + data + bytes([Control.ETX, lrc(data) ^ 0x55]))
    assert raw.next() == ControlByte(Control.NACK)
    raw.send(encode_frame(data))
    assert raw.next() == ControlByte(Control.ACK)
    response = raw.next()
    assert isinstance(response, Frame)
    assert RESPONSES.parse(response.data) == Alive("CP1", AdminState.ACTIVE)
    raw.send(ACK)


def test_server_resends_a_nacked_response_then_gives_up(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    raw.send(encode_frame(Heartbeat("CP1", EngineHealth.OK).to_bytes()))
    assert raw.next() == ControlByte(Control.ACK)
    first = raw.next()
    raw.send(NACK)
    assert raw.next() == first  # resent, identical
    raw.send(NACK)
    assert raw.next() == first
    raw.send(NACK)  # third attempt refused: the server closes
    assert raw.wait_closed(3) == b""


def test_three_bad_frames_in_a_row_close(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    bad = bytes([Control.STX]) + b"FAULT#CP1#x" + bytes([Control.ETX, 0])
    raw.send(bad)
    assert raw.next() == ControlByte(Control.NACK)
    raw.send(bad)
    assert raw.next() == ControlByte(Control.NACK)
    raw.send(bad)
    assert raw.next() == ControlByte(Control.NACK)
    assert raw.wait_closed(3) == b""


def test_anything_before_enq_is_refused(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.send(encode_frame(Heartbeat("CP1", EngineHealth.OK).to_bytes()))
    assert raw.wait_closed(3) == NACK


def test_max_connections_refuses_the_handshake(make_server) -> None:
    server = make_server(max_connections=1)
    with CentralClient("127.0.0.1", server.port) as first:
        second = CentralClient("127.0.0.1", server.port)
        with pytest.raises(HandshakeRefused):
            second.connect()
        assert not second.connected
        assert first.request(Heartbeat("CP1", EngineHealth.OK)).cp_id == "CP1"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"HELLO#there", ["unknown opcode", "HELLO"]),
        (b"HEARTBEAT#CP1#MAYBE", ["engine", "MAYBE"]),
        (b"AUTH#CP1", ["AUTH", "2 fields"]),
        (b"FAULT#CP1#\xff", ["UTF-8"]),
    ],
)
def test_bad_request_text_gets_ack_and_error(server, raw_clients, data, words) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    raw.send(encode_frame(data))
    assert raw.next() == ControlByte(Control.ACK)
    response = raw.next()
    error = RESPONSES.parse(response.data)
    assert isinstance(error, Error)
    for word in words:
        assert word in error.reason
    raw.send(ACK)
    # the session goes on
    raw.send(encode_frame(b"FAULT#CP1#x"))
    assert raw.next() == ControlByte(Control.ACK)
    assert RESPONSES.parse(raw.next().data) == Noted("CP1", "FAULT")


def test_handler_exception_becomes_internal_error_and_the_loop_goes_on(server) -> None:
    with CentralClient("127.0.0.1", server.port) as client:
        assert client.request(Heartbeat("boom", EngineHealth.OK)) == Error("internal error")
        assert client.request(Heartbeat("bad-response", EngineHealth.OK)) == Error("internal error")
        assert client.request(Heartbeat("CP1", EngineHealth.KO)) == Alive("CP1", AdminState.ACTIVE)


def test_oversized_frame_closes_without_answer(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    raw.send(bytes([Control.STX]) + b"A" * 1100)
    assert raw.wait_closed(3) == b""
    wait_for(lambda: len(server.closed) == 1, 3, "on_close")


def test_eot_closes(server, raw_clients) -> None:
    raw = raw_clients(server.port)
    raw.handshake()
    raw.send(EOT)
    assert raw.wait_closed(3) == b""


def test_idle_connection_is_closed(make_server, raw_clients) -> None:
    server = make_server(idle_timeout=1.0)
    raw = raw_clients(server.port)
    raw.handshake()
    started = time.monotonic()
    assert raw.wait_closed(5) == b""
    assert 0.9 <= time.monotonic() - started < 3.0


def _stalled_while_others_are_served(server: ServerThread, raw: Raw, stall: float) -> None:
    """Stall `raw` half-way through a frame; a second client must stay prompt meanwhile."""
    raw.handshake()
    raw.send(bytes([Control.STX]) + b"HEARTBEAT#CP")
    stalled_at = time.monotonic()
    closed_at: list[float] = []

    def watch() -> None:
        raw.wait_closed(stall + 5)
        closed_at.append(time.monotonic())

    watcher = threading.Thread(target=watch)
    watcher.start()
    latencies = []
    with CentralClient("127.0.0.1", server.port) as other:
        while not closed_at and time.monotonic() - stalled_at < stall + 4:
            t0 = time.monotonic()
            assert other.request(Heartbeat("CP2", EngineHealth.OK)).cp_id == "CP2"
            latencies.append(time.monotonic() - t0)
            time.sleep(0.05)  # pacing of the healthy client, not a wait for a result
    watcher.join(5)
    assert closed_at, "the stalled connection was never closed"
    assert stall - 0.1 <= closed_at[0] - stalled_at < stall + 1.5
    assert len(latencies) >= 5
    assert max(latencies) < 0.5


def test_stalled_half_frame_closed_after_stall_timeout(make_server, raw_clients) -> None:
    server = make_server(stall_timeout=1.0)
    _stalled_while_others_are_served(server, raw_clients(server.port), 1.0)


def test_stalled_half_frame_closed_after_the_default_5s(server, raw_clients) -> None:
    assert server.server.stall_timeout == 5.0
    _stalled_while_others_are_served(server, raw_clients(server.port), 5.0)


def test_trickling_a_frame_does_not_reset_the_stall_clock(make_server, raw_clients) -> None:
    server = make_server(stall_timeout=1.0)
    raw = raw_clients(server.port)
    raw.handshake()
    raw.send(bytes([Control.STX]))
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 4:
        time.sleep(0.2)  # the trickle itself is the scenario under test
        try:
            raw.send(b"A")
        except OSError:
            closed = True
            break
        raw.sock.settimeout(0.01)
        try:
            if raw.sock.recv(1) == b"":
                closed = True
                break
        except TimeoutError:
            pass
    assert closed
    assert time.monotonic() - started < 2.0


def test_new_auth_replaces_the_old_connection(server) -> None:
    with (
        CentralClient("127.0.0.1", server.port) as old,
        CentralClient("127.0.0.1", server.port) as new,
    ):
        old.request(Auth("CP1", "s"))
        old_conn = server.by_cp["CP1"]
        new.request(Auth("CP1", "s"))
        assert old_conn.closed
        wait_for(lambda: old_conn in server.closed, 3, "the old connection to end")
        with pytest.raises(ConnectionLost):
            old.request(Heartbeat("CP1", EngineHealth.OK))
        assert new.request(Heartbeat("CP1", EngineHealth.OK)).cp_id == "CP1"


def test_server_close_closes_open_connections(make_server) -> None:
    server = make_server()
    clients = [CentralClient("127.0.0.1", server.port) for _ in range(3)]
    for client in clients:
        client.connect()
    wait_for(lambda: len(server.server.connections) == 3, 5, "three connections")
    server.call(server.server.close())
    wait_for(lambda: len(server.closed) == 3, 5, "on_close for all three")
    for client in clients:
        with pytest.raises(ConnectionLost):
            client.request(Heartbeat("CP1", EngineHealth.OK))
    with pytest.raises(ConnectionLost):
        CentralClient("127.0.0.1", server.port).connect()


def test_300_concurrent_clients(make_server) -> None:
    server = make_server()
    count = 300
    barrier = threading.Barrier(count, timeout=30)

    def session(i: int) -> list:
        cp = f"CP{i:03d}"
        client = CentralClient("127.0.0.1", server.port, response_timeout=10)
        try:
            client.connect()
            barrier.wait()  # every client is connected before anyone sends
            return [
                client.request(Auth(cp, "s")),
                client.request(Heartbeat(cp, EngineHealth.OK)),
                client.request(Fault(cp, "x")),
            ]
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(session, range(count)))
    for i, answers in enumerate(results):
        cp = f"CP{i:03d}"
        assert answers == [
            Authorized(cp, 0.35, AdminState.ACTIVE),
            Alive(cp, AdminState.ACTIVE),
            Noted(cp, "FAULT"),
        ]
    wait_for(lambda: len(server.closed) == count, 10, "every connection to end")


# -- client side against hand-written servers ------------------------------------------


def _handshake(conn, next_event) -> None:
    assert next_event() == ControlByte(Control.ENQ)
    conn.sendall(ACK)


ALIVE = encode_frame(Alive("CP1", AdminState.ACTIVE).to_bytes())


def beat_once(script: Script) -> None:
    """A client's HEARTBEAT to a Central playing ``script``, which must answer ALIVE."""
    fake = ScriptedCentral(script)
    client = CentralClient("127.0.0.1", fake.port)
    client.connect()
    assert client.request(Heartbeat("CP1", EngineHealth.OK)) == Alive("CP1", AdminState.ACTIVE)
    client.close()
    fake.join()


def test_client_resends_after_two_nacks() -> None:
    def script(conn, next_event):
        _handshake(conn, next_event)
        frames = []
        for answer in (NACK, NACK, ACK):
            frames.append(next_event())
            conn.sendall(answer)
        assert len(set(frames)) == 1 and isinstance(frames[0], Frame)
        conn.sendall(ALIVE)
        assert next_event() == ControlByte(Control.ACK)
        assert next_event() == ControlByte(Control.EOT)

    beat_once(script)


def test_client_gives_up_after_three_nacks() -> None:
    def script(conn, next_event):
        _handshake(conn, next_event)
        for _ in range(3):
            assert isinstance(next_event(), Frame)
            conn.sendall(NACK)
        assert next_event() is None  # the client closed

    fake = ScriptedCentral(script)
    client = CentralClient("127.0.0.1", fake.port)
    client.connect()
    with pytest.raises(TooManyAttempts):
        client.request(Heartbeat("CP1", EngineHealth.OK))
    assert not client.connected
    fake.join()


def test_client_nacks_a_bad_response_and_takes_the_resend() -> None:
    def script(conn, next_event):
        _handshake(conn, next_event)
        assert isinstance(next_event(), Frame)
        conn.sendall(ACK)
        conn.sendall(ALIVE[:-1] + bytes([ALIVE[-1] ^ 1]))  # bad LRC
        assert next_event() == ControlByte(Control.NACK)
        conn.sendall(ALIVE[:5])  # and split across segments for good measure
        time.sleep(0.05)
        conn.sendall(ALIVE[5:])
        assert next_event() == ControlByte(Control.ACK)

    beat_once(script)


def test_client_response_timeout() -> None:
    done = threading.Event()

    def script(conn, next_event):
        _handshake(conn, next_event)
        assert isinstance(next_event(), Frame)
        conn.sendall(ACK)  # ... and never a response
        done.wait(5)

    fake = ScriptedCentral(script)
    client = CentralClient("127.0.0.1", fake.port, response_timeout=0.5)
    client.connect()
    started = time.monotonic()
    with pytest.raises(ResponseTimeout) as info:
        client.request(Heartbeat("CP1", EngineHealth.OK))
    assert 0.45 <= time.monotonic() - started < 1.5
    assert isinstance(info.value.__cause__, TimeoutError)
    assert not client.connected
    done.set()
    fake.join()


def test_client_handshake_refused_and_unanswered() -> None:
    def refuse(conn, next_event):
        assert next_event() == ControlByte(Control.ENQ)
        conn.sendall(NACK)

    fake = ScriptedCentral(refuse)
    with pytest.raises(HandshakeRefused):
        CentralClient("127.0.0.1", fake.port).connect()
    fake.join()

    done = threading.Event()
    fake = ScriptedCentral(lambda conn, next_event: done.wait(5))
    client = CentralClient("127.0.0.1", fake.port, response_timeout=0.3)
    with pytest.raises(ResponseTimeout):
        client.connect()
    assert not client.connected
    done.set()
    fake.join()


def test_client_errors_are_wire_errors() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    client = CentralClient("127.0.0.1", port, connect_timeout=1)
    with pytest.raises(ConnectionLost) as info:
        client.connect()
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(ConnectionLost):
        client.request(Heartbeat("CP1", EngineHealth.OK))
    client.close()  # never raises, even when not connected

    def hang_up(conn, next_event):
        _handshake(conn, next_event)
        next_event()

    fake = ScriptedCentral(hang_up)
    client = CentralClient("127.0.0.1", fake.port)
    client.connect()
    with pytest.raises(WireError):
        client.request(Heartbeat("CP1", EngineHealth.OK))
    fake.join()
