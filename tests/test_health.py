"""ZeroMQ health channel over real sockets: wire.health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from tests.waiting import wait_for
from wire.errors import EngineUnreachable, MessageError
from wire.health import HealthResponder, LazyPirateClient
from wire.health_messages import (
    CentralLink,
    EngineState,
    Health,
    HealthKo,
    HealthOk,
)
from wire.tcp_messages import AdminState

ROOT = Path(__file__).resolve().parent.parent
HEALTH = Health("CP1", 0.35, AdminState.ACTIVE, CentralLink.UP)


def idle(request: Health) -> HealthOk | HealthKo:
    return HealthOk(request.cp_id, EngineState.IDLE)


@pytest.fixture
def responder_factory() -> Iterator[Callable[..., HealthResponder]]:
    running: list[tuple[HealthResponder, threading.Event, threading.Thread]] = []

    def start(answer=idle, port: int = 0) -> HealthResponder:
        responder = HealthResponder(port, answer, host="127.0.0.1")
        stop = threading.Event()
        thread = threading.Thread(target=responder.serve, args=(stop,), daemon=True)
        thread.start()
        running.append((responder, stop, thread))
        return responder

    yield start
    for responder, stop, thread in running:
        stop.set()
        thread.join(2)
        assert not thread.is_alive(), "serve() did not stop promptly"
        responder.close()


@pytest.fixture
def clients() -> Iterator[Callable[..., LazyPirateClient]]:
    made: list[LazyPirateClient] = []

    def make(port: int, **options) -> LazyPirateClient:
        made.append(LazyPirateClient(f"tcp://127.0.0.1:{port}", **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_check_gets_the_engine_answer(responder_factory, clients) -> None:
    responder = responder_factory()
    assert responder.port > 0
    client = clients(responder.port)
    assert client.check(HEALTH) == HealthOk("CP1", EngineState.IDLE)
    assert client.check(HEALTH) == HealthOk("CP1", EngineState.IDLE)
    assert client.sockets_created == 1


def test_serve_stops_promptly(responder_factory) -> None:
    responder = HealthResponder(0, idle, host="127.0.0.1")
    stop = threading.Event()
    thread = threading.Thread(target=responder.serve, args=(stop,))
    thread.start()
    started = time.monotonic()
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert time.monotonic() - started < 0.5
    responder.close()


def test_bad_request_text_is_answered_ko(responder_factory) -> None:
    responder = responder_factory()
    ctx = zmq.Context.instance()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(f"tcp://127.0.0.1:{responder.port}")
    try:
        for payload in ([b"garbage"], [b"HEALTH#CP1#cheap#ACTIVE#UP"], [b"\xff\xfe"], [b"a", b"b"]):
            req.send_multipart(payload)
            assert req.poll(2000), f"no answer to {payload!r}"
            reply = req.recv()
            assert reply.startswith(b"KO#?#"), reply
            assert len(reply) > len(b"KO#?#")
        req.send(HEALTH.to_bytes())  # and it still answers good requests
        assert req.poll(2000)
        assert req.recv() == b"OK#CP1#IDLE"
    finally:
        req.close()


def test_answer_exception_is_ko_internal_error(responder_factory, clients) -> None:
    def broken(request: Health) -> HealthOk:
        raise RuntimeError("engine bug")

    client = clients(responder_factory(broken).port)
    assert client.check(HEALTH) == HealthKo("CP1", "internal error")


def test_no_engine_raises_unreachable_within_the_timeout(clients) -> None:
    with zmq.Context.instance().socket(zmq.REP) as probe:
        port = probe.bind_to_random_port("tcp://127.0.0.1")
    client = clients(port)
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(EngineUnreachable):
            client.check(HEALTH)
        assert 0.45 <= time.monotonic() - started < 0.7
    assert client.misses == 3
    assert client.sockets_created == 4  # the first, then a fresh one after every miss


def test_slow_engine_does_not_confuse_the_next_check(responder_factory, clients) -> None:
    slow = threading.Event()
    slow.set()

    def answer(request: Health) -> HealthOk:
        if slow.is_set():
            time.sleep(0.8)  # the engine being slow is the scenario
            return HealthOk(request.cp_id, EngineState.SUPPLYING)
        return HealthOk(request.cp_id, EngineState.IDLE)

    client = clients(responder_factory(answer).port, timeout_ms=300)
    started = time.monotonic()
    with pytest.raises(EngineUnreachable):
        client.check(HEALTH)
    assert time.monotonic() - started < 0.5
    slow.clear()
    # The late SUPPLYING reply went to the discarded socket; never read as this answer.
    reply = wait_for(lambda: _try(client), 5, "a fresh reply")
    assert reply == HealthOk("CP1", EngineState.IDLE)


def _try(client: LazyPirateClient):
    try:
        return client.check(HEALTH)
    except EngineUnreachable:
        return None


def test_reply_that_does_not_parse(clients) -> None:
    ctx = zmq.Context.instance()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    replies = [b"WHAT#CP1", b"OK#CP1#DANCING", b"OK#CP1#IDLE"]

    def serve() -> None:
        for reply in replies:
            if rep.poll(3000):
                rep.recv()
                rep.send(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client = clients(port)
        with pytest.raises(MessageError):
            client.check(HEALTH)
        with pytest.raises(MessageError, match="engine_state"):
            client.check(HEALTH)
        assert client.sockets_created == 3  # replaced after each bad reply
        assert client.check(HEALTH) == HealthOk("CP1", EngineState.IDLE)
        assert client.misses == 0
    finally:
        thread.join(5)
        rep.close()


def _start_engine(port: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.health_engine", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = proc.stdout.readline()  # the engine prints its port once bound
    assert line.strip().isdigit(), f"engine did not start: {line!r}"
    return proc, int(line)


@pytest.mark.process
def test_engine_killed_and_restarted(clients) -> None:
    proc, port = _start_engine(0)
    procs = [proc]
    try:
        client = clients(port)
        assert wait_for(lambda: _try(client), 10, "the engine to answer") == HealthOk(
            "CP1", EngineState.IDLE
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        started = time.monotonic()
        with pytest.raises(EngineUnreachable):
            client.check(HEALTH)
        assert time.monotonic() - started < 0.7
        with pytest.raises(EngineUnreachable):
            client.check(HEALTH)  # and again: nothing is wedged

        proc, _ = _start_engine(port)
        procs.append(proc)
        reply = wait_for(lambda: _try(client), 10, "the restarted engine to answer")
        assert reply == HealthOk("CP1", EngineState.IDLE)
        assert client.check(HEALTH) == HealthOk("CP1", EngineState.IDLE)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(5)
            p.stdout.close()
