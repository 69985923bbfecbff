"""``wire.tcp_server`` internals that matter for 10,000 monitors: the synchronous fast path,
strictly sequential requests with a slow handler, the deadline sweep, and running out of
file descriptors. The protocol behaviour itself is covered by test_tcp_session.py."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.raw_framed import Raw
from tests.waiting import wait_for
from wire.aio import new_event_loop
from wire.errors import HandshakeRefused
from wire.framing import Control, ControlByte, Frame, encode_frame
from wire.limits import raise_open_files_limit, safe_max_connections
from wire.tcp_client import CentralClient
from wire.tcp_messages import (
    RESPONSES,
    AdminState,
    Alive,
    EngineHealth,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Request,
)
from wire.tcp_server import Connection, FramedServer

REPO = Path(__file__).resolve().parent.parent
ACK, NACK, ENQ = (bytes([c]) for c in (Control.ACK, Control.NACK, Control.ENQ))
LOOPS = {"uvloop": new_event_loop, "asyncio": asyncio.new_event_loop}


class Loop:
    """An event loop in a thread, as Central runs its TCP side."""

    def __init__(self, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop = factory()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[FramedServer] = []

    def call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serve(self, handler, **options) -> FramedServer:
        server = FramedServer(handler, host="127.0.0.1", **options)
        self.call(server.start())
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            self.call(server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(params=sorted(LOOPS))
def loop(request) -> Iterator[Loop]:
    running = Loop(LOOPS[request.param])
    yield running
    running.stop()


def heartbeat_handler(conn: Connection, request: Request):
    """A synchronous handler: the fast path."""
    if isinstance(request, Heartbeat):
        return Alive(request.cp_id, AdminState.ACTIVE)
    return Error("unexpected")


# -- the handler contract -----------------------------------------------------------------


def test_a_synchronous_handler_is_answered_without_creating_a_task(loop) -> None:
    server = loop.serve(heartbeat_handler)
    created: list[object] = []

    def counting_factory(ev_loop, coro, **kwargs):
        created.append(coro)
        return asyncio.Task(coro, loop=ev_loop, **kwargs)

    with CentralClient("127.0.0.1", server.port) as client:
        loop.loop.call_soon_threadsafe(loop.loop.set_task_factory, counting_factory)
        wait_for(lambda: loop.loop.get_task_factory() is counting_factory, 5, "the factory")
        for i in range(50):
            beat = Heartbeat(f"CP{i % 3}", EngineHealth.OK)
            assert client.request(beat) == Alive(f"CP{i % 3}", AdminState.ACTIVE)
    assert created == []


def test_handler_results_sync_async_future_errors_and_timeouts(loop) -> None:
    def handler(conn: Connection, request: Request):
        match request:
            case Heartbeat(cp_id="sync"):
                return Alive("sync", AdminState.STOPPED)
            case Heartbeat(cp_id="raise"):
                raise RuntimeError("handler bug")
            case Heartbeat(cp_id="future"):
                return asyncio.get_running_loop().run_in_executor(
                    None, lambda: Alive("future", AdminState.ACTIVE)
                )
            case Heartbeat(cp_id="slow"):
                return asyncio.sleep(5, Alive("slow", AdminState.ACTIVE))
            case Heartbeat(cp_id="none"):
                return None
        return coroutine_handler(request)

    async def coroutine_handler(request: Request):
        await asyncio.sleep(0)
        return Noted(request.cp_id, "FAULT")

    server = loop.serve(handler, handler_timeout=0.3)
    with CentralClient("127.0.0.1", server.port, response_timeout=3) as client:
        assert client.request(Heartbeat("sync", EngineHealth.OK)) == Alive(
            "sync", AdminState.STOPPED
        )
        assert client.request(Heartbeat("raise", EngineHealth.OK)) == Error("internal error")
        assert client.request(Heartbeat("future", EngineHealth.OK)) == Alive(
            "future", AdminState.ACTIVE
        )
        started = time.monotonic()
        assert client.request(Heartbeat("slow", EngineHealth.OK)) == Error("internal error")
        assert 0.25 <= time.monotonic() - started < 2.0
        assert client.request(Heartbeat("none", EngineHealth.OK)) == Error("internal error")
        assert client.request(Fault("CP1", "x")) == Noted("CP1", "FAULT")
    wait_for(lambda: server.connections == [], 5, "the session to end after EOT")


def test_pipelined_frames_with_a_slow_handler_are_handled_one_at_a_time(loop) -> None:
    active = 0
    peak = 0
    handled: list[str] = []

    async def slow(conn: Connection, request: Request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.1)  # the handler's own work (a database write, say)
            handled.append(request.reason)
            return Noted(request.cp_id, request.reason)
        finally:
            active -= 1

    server = loop.serve(slow)
    raw = Raw(server.port)
    raw.handshake()
    reasons = ["one", "two", "three"]
    raw.sock.sendall(b"".join(encode_frame(Fault("CP1", r).to_bytes()) for r in reasons))
    seen = []
    for _ in range(len(reasons)):
        assert raw.next() == ControlByte(Control.ACK)
        response = raw.next()
        assert isinstance(response, Frame)
        seen.append(RESPONSES.parse(response.data))
        # no ACK from us: the next pipelined request counts as the implicit ACK
    raw.sock.sendall(ACK)
    assert seen == [Noted("CP1", r) for r in reasons]
    assert handled == reasons
    assert peak == 1
    raw.sock.close()


def test_close_from_the_own_handler_sends_the_response_first(loop) -> None:
    def handler(conn: Connection, request: Request):
        conn.close()
        assert conn.closed
        return Alive(request.cp_id, AdminState.ACTIVE)

    closed: list[Connection] = []
    server = loop.serve(handler, on_close=closed.append)
    raw = Raw(server.port)
    raw.handshake()
    raw.sock.sendall(encode_frame(Heartbeat("CP1", EngineHealth.OK).to_bytes()))
    assert raw.next() == ControlByte(Control.ACK)
    assert RESPONSES.parse(raw.next().data) == Alive("CP1", AdminState.ACTIVE)
    assert closed == []  # still waiting for our ACK
    raw.sock.sendall(ACK)
    assert raw.closed_after(3) is not None
    wait_for(lambda: len(closed) == 1, 3, "on_close")


# -- the deadline sweep ---------------------------------------------------------------------


def test_the_sweep_ends_idle_stalled_and_unacknowledging_peers_on_time(loop) -> None:
    idle, stall, response = 0.8, 0.5, 0.6
    server = loop.serve(
        heartbeat_handler, idle_timeout=idle, stall_timeout=stall, response_timeout=response
    )
    slack = server.sweep_period + 0.5  # one sweep period, plus scheduling on a busy machine

    idlers = [Raw(server.port) for _ in range(100)]
    for raw in idlers:
        raw.handshake()
    idle_since = time.monotonic()

    stalled = Raw(server.port)
    stalled.handshake()
    stalled.sock.sendall(bytes([Control.STX]) + b"HEARTBEAT#CP")
    stalled_at = time.monotonic()

    mute = Raw(server.port)
    mute.handshake()
    mute.sock.sendall(encode_frame(Heartbeat("CP9", EngineHealth.OK).to_bytes()))
    assert mute.next() == ControlByte(Control.ACK)
    assert isinstance(mute.next(), Frame)  # ... and we never ACK it
    answered_at = time.monotonic()

    # meanwhile a well-behaved monitor is served promptly throughout
    latencies: list[float] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def beat() -> None:
        with CentralClient("127.0.0.1", server.port) as good:
            while not done.is_set():
                t0 = time.monotonic()
                try:
                    assert good.request(Heartbeat("CP1", EngineHealth.OK)).cp_id == "CP1"
                except BaseException as exc:
                    failures.append(exc)
                    return
                latencies.append(time.monotonic() - t0)
                done.wait(0.1)  # the monitor's pacing, not a wait for a result

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        assert mute.closed_after(response + slack + 1) is not None
        assert response - 0.05 <= time.monotonic() - answered_at < response + slack
        assert stalled.closed_after(stall + slack + 1) is not None
        assert stall - 0.05 <= time.monotonic() - stalled_at < max(stall, response) + slack
        for raw in idlers:
            assert raw.closed_after(idle + slack + 1) is not None
        assert idle - 0.05 <= time.monotonic() - idle_since < idle + slack
    finally:
        done.set()
        beater.join(5)
    assert failures == []
    assert len(latencies) >= 5
    assert max(latencies) < 0.5
    for raw in [*idlers, stalled, mute]:
        raw.sock.close()


# -- file descriptors -----------------------------------------------------------------------


def test_raise_open_files_limit_and_safe_max_connections() -> None:
    limit = raise_open_files_limit()
    assert limit >= 256
    assert raise_open_files_limit() == limit  # idempotent
    assert safe_max_connections(limit) == limit - 256
    assert safe_max_connections(1000, reserve=100) == 900
    assert safe_max_connections(10, reserve=100) == 1


SERVER = textwrap.dedent(
    """
    import asyncio, logging, resource, sys
    from wire.aio import new_event_loop
    from wire.limits import safe_max_connections
    from wire.tcp_messages import AdminState, Alive, Error, Heartbeat
    from wire.tcp_server import FramedServer

    limit, kind, reserve, response = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    loop = new_event_loop() if kind == "uvloop" else asyncio.new_event_loop()

    def handle(conn, request):
        if isinstance(request, Heartbeat):
            return Alive(request.cp_id, AdminState.ACTIVE)
        return Error("unexpected")

    cap = None if reserve == "none" else safe_max_connections(limit, int(reserve))
    server = FramedServer(handle, host="127.0.0.1", max_connections=cap, response_timeout=response)
    print(loop.run_until_complete(server.start()), flush=True)
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    loop.run_until_complete(server.close())
    """
)


class LimitedServer:
    """A FramedServer in a subprocess whose RLIMIT_NOFILE is ``limit``."""

    def __init__(self, limit: int, kind: str, reserve: str, response_timeout: float = 5.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(limit), kind, reserve, str(response_timeout)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> list[str]:
        """Stop it; returns the WARNING/ERROR lines it logged."""
        _out, err = self.proc.communicate(input="", timeout=20)
        return [line for line in err.splitlines() if line.startswith(("WARNING", "ERROR"))]


def _answer_to_enq(sock: socket.socket, timeout: float) -> bytes:
    """What the server answered to our ENQ: ACK, NACK, or b"" when it just closed."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1)
    except ConnectionResetError:
        return b""


@pytest.mark.process
@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_max_connections_below_the_fd_limit_refuses_with_nack(kind) -> None:
    server = LimitedServer(64, kind, reserve="24")  # 40 sessions at most
    sessions: list[CentralClient] = []
    refused = 0
    try:
        for i in range(60):
            client = CentralClient("127.0.0.1", server.port)
            try:
                client.connect()
            except HandshakeRefused:
                refused += 1
                continue
            sessions.append(client)
            assert client.request(Heartbeat(f"CP{i}", EngineHealth.OK)).cp_id == f"CP{i}"
        assert (len(sessions), refused) == (40, 20)
        for client in sessions[:5]:
            assert client.request(Heartbeat("CP", EngineHealth.OK)).cp_id == "CP"
    finally:
        for client in sessions:
            client.close()
        problems = server.stop()
    assert problems == []


@pytest.mark.process
@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_out_of_descriptors_refuses_cleanly_and_logs_little(kind) -> None:
    server = LimitedServer(64, kind, reserve="none")  # no cap: accept() will hit EMFILE
    first = CentralClient("127.0.0.1", server.port)
    first.connect()
    flood: list[socket.socket] = []
    answers: list[bytes] = []
    try:
        started = time.monotonic()
        # Open connections until the server has none left, then keep knocking for a while:
        # it must keep refusing (NACK or a plain close), never hang a peer, and log rarely.
        while time.monotonic() - started < 3.0:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(ENQ)
            flood.append(sock)
            answers.append(_answer_to_enq(sock, 5))
            assert first.request(Heartbeat("CP1", EngineHealth.OK)).cp_id == "CP1"
        elapsed = time.monotonic() - started
        accepted = answers.count(ACK)
        assert 20 < accepted < 64
        assert len(answers) > accepted + 5, "the limit was never reached"
        assert set(answers) <= {ACK, NACK, b""}
        assert NACK in answers
        # descriptors freed: accepting resumes
        for sock in flood:
            sock.close()
        again = CentralClient("127.0.0.1", server.port)
        wait_for(lambda: _connects(again), 10, "a new session after descriptors were freed")
        assert again.request(Heartbeat("CP2", EngineHealth.OK)).cp_id == "CP2"
        again.close()
    finally:
        first.close()
        for sock in flood:
            sock.close()
        problems = server.stop()
    assert problems, "running out of descriptors went unreported"
    assert len(problems) <= 1 + elapsed / 5, problems
    assert all("accept() failed" in line for line in problems), problems


def _connects(client: CentralClient) -> bool:
    try:
        client.connect()
    except HandshakeRefused:
        return False
    return True


# -- the process standing still -------------------------------------------------------------


@pytest.mark.process
@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_a_stall_of_the_server_is_not_the_peers_silence(kind) -> None:
    """Issue 21: the server process stood still (SIGSTOP) while a peer's ACK and next request
    waited in its socket, and the response's 1 s ACK deadline passed. After SIGCONT both
    loops run the due timers before they poll the sockets: the sweep must let the loop read
    what waited before it judges; a peer that really sent nothing is still ended soon after."""
    server = LimitedServer(1024, kind, reserve="none", response_timeout=1.0)
    try:
        talker, mute = Raw(server.port), Raw(server.port)
        for raw in (talker, mute):
            raw.handshake()
            raw.sock.sendall(encode_frame(Heartbeat("CP1", EngineHealth.OK).to_bytes()))
            assert raw.next() == ControlByte(Control.ACK)
            assert isinstance(raw.next(), Frame)  # the response, not acknowledged yet
        stopped = time.monotonic()
        server.proc.send_signal(signal.SIGSTOP)
        try:
            talker.sock.sendall(ACK + encode_frame(Heartbeat("CP1", EngineHealth.OK).to_bytes()))
            # the stall is the fault itself, not a wait for a result
            wait_for(lambda: time.monotonic() - stopped >= 2.5, 5, "the stall")
        finally:
            server.proc.send_signal(signal.SIGCONT)
        assert talker.next(timeout=5) == ControlByte(Control.ACK)  # served after the thaw
        assert isinstance(talker.next(), Frame)
        talker.sock.sendall(ACK)
        assert mute.closed_after(3) is not None  # its ACK never came: ended after the hold
        assert talker.closed_after(0.3) is None
        for raw in (talker, mute):
            raw.sock.close()
    finally:
        server.proc.send_signal(signal.SIGCONT)
        assert server.stop() == []
