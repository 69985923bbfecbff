"""The health channel with CURVE (wire.health + wire.curve), over real ZeroMQ sockets.

Only a peer holding a monitor key the engine's folder lists gets a message to the engine;
everyone else is dropped by ZeroMQ at the handshake (the engine's code never sees it) and
the lazy-pirate client reports UNREACHABLE, with the reason in words.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from wire.curve import CurveClient, CurveKeys, CurveServer
from wire.errors import CurveKeyError, EngineHandshakeFailed, EngineUnreachable
from wire.health import HealthResponder, LazyPirateClient
from wire.health_messages import CentralLink, EngineState, Health, HealthKo, HealthOk, Key
from wire.kafka.sealed import new_key
from wire.tcp_messages import AdminState


def health(cp_id: str = "CP-01") -> Health:
    return Health(cp_id, 0.35, AdminState.ACTIVE, CentralLink.UP)


class Engine:
    """A CURVE responder in a thread that records every request its code was given."""

    def __init__(self, keys: CurveKeys, *, host: str = "127.0.0.1") -> None:
        self.seen: list[Health | Key] = []
        self.server, _ = CurveServer.open(keys)
        self.responder = HealthResponder(0, self._answer, host=host, curve=self.server)
        self.endpoint = f"tcp://127.0.0.1:{self.responder.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.responder.serve, args=(self._stop,))
        self._thread.start()

    def _answer(self, request: Health | Key) -> HealthOk:
        self.seen.append(request)
        return HealthOk(request.cp_id, EngineState.IDLE)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)
        assert not self._thread.is_alive()
        self.responder.close()


@pytest.fixture
def keys(tmp_path: Path) -> CurveKeys:
    return CurveKeys(tmp_path / "curve")


@pytest.fixture
def engine(keys: CurveKeys) -> Iterator[Engine]:
    running = Engine(keys)
    yield running
    running.close()


@pytest.fixture
def clients() -> Iterator[Callable[..., LazyPirateClient]]:
    made: list[LazyPirateClient] = []

    def make(endpoint: str, curve: CurveClient | None, **options) -> LazyPirateClient:
        made.append(LazyPirateClient(endpoint, curve=curve, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def raw_request(endpoint: str, payload: bytes, *, curve: tuple[bytes, bytes, bytes] | None = None):
    """One request on a bare REQ socket (plain, or CURVE with (public, secret, server));
    the reply, or None when none came within a second."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    try:
        if curve is not None:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = curve
        sock.connect(endpoint)
        sock.send(payload)
        return sock.recv() if sock.poll(1000) else None
    finally:
        sock.close(linger=0)


def test_the_genuine_monitor_is_answered(engine: Engine, keys: CurveKeys, clients) -> None:
    monitor, _ = CurveClient.open(keys, "CP-01")
    client = clients(engine.endpoint, monitor)
    assert client.check(health()) == HealthOk("CP-01", EngineState.IDLE)
    key = new_key()
    assert isinstance(client.check(Key("CP-01", key)), HealthOk)
    assert engine.seen == [health(), Key("CP-01", key)]
    assert client.connections == 1


def test_a_plain_peer_gets_nothing_through(engine: Engine, keys: CurveKeys, clients) -> None:
    CurveClient.open(keys, "CP-01")  # the genuine monitor's key exists
    assert raw_request(engine.endpoint, Key("CP-01", new_key()).to_bytes()) is None
    assert raw_request(engine.endpoint, health().to_bytes()) is None
    plain = clients(engine.endpoint, None)
    with pytest.raises(EngineHandshakeFailed, match="requires CURVE"):
        plain.check(health())
    assert engine.seen == []  # the engine's code never saw any of it


def test_a_curve_peer_with_an_unknown_key_gets_nothing_through(
    engine: Engine, keys: CurveKeys, clients, tmp_path: Path
) -> None:
    CurveClient.open(keys, "CP-01")
    stranger_public, stranger_secret = zmq.curve_keypair()
    server = keys.engine_public_key()  # public: anyone may know it
    payload = Key("CP-01", new_key()).to_bytes()
    assert (
        raw_request(engine.endpoint, payload, curve=(stranger_public, stranger_secret, server))
        is None
    )
    # a monitor whose own folder has a CP-01 key the engine's folder does not list
    elsewhere = CurveKeys(tmp_path / "elsewhere")
    CurveClient.open(elsewhere, "CP-01")
    shutil.copy(keys.engine_public, elsewhere.engine_public)
    client = clients(engine.endpoint, CurveClient(elsewhere, "CP-01"))
    with pytest.raises(EngineHandshakeFailed, match="refused our CURVE key"):
        client.check(Key("CP-01", new_key()))
    assert engine.seen == []


def test_a_monitor_holding_the_wrong_engine_key_sends_nothing(
    engine: Engine, keys: CurveKeys, clients, tmp_path: Path
) -> None:
    """The monitor pins the engine's public key: an impostor engine never receives the KEY."""
    CurveClient.open(keys, "CP-01")
    wrong = CurveKeys(tmp_path / "wrong")
    wrong.ensure_engine()  # some other engine's key
    shutil.copytree(keys.cp_dir("CP-01"), wrong.cp_dir("CP-01"))
    client = clients(engine.endpoint, CurveClient(wrong, "CP-01"))
    with pytest.raises(EngineHandshakeFailed, match="engine's public key"):
        client.check(Key("CP-01", new_key()))
    assert engine.seen == []


def test_another_cps_monitor_cannot_speak_for_this_cp(engine: Engine, keys: CurveKeys, clients):
    """CP-02's key gets in (the engine has not adopted a CP yet) but a request naming CP-01 is
    answered KO before the engine sees it; once the engine adopted CP-01, CP-02's key is
    refused at the handshake."""
    cp02, _ = CurveClient.open(keys, "CP-02")
    cp01, _ = CurveClient.open(keys, "CP-01")
    other = clients(engine.endpoint, cp02)
    reply = other.check(Key("CP-01", new_key()))
    assert isinstance(reply, HealthKo) and "CP-02" in reply.reason
    assert engine.seen == []
    engine.responder.pin("CP-01")
    genuine = clients(engine.endpoint, cp01)
    assert isinstance(genuine.check(health("CP-01")), HealthOk)
    late = clients(engine.endpoint, cp02)
    with pytest.raises(EngineHandshakeFailed, match="refused our CURVE key"):
        late.check(health("CP-02"))
    assert engine.seen == [health("CP-01")]


def test_a_rotated_monitor_key_counts_at_the_next_socket(
    engine: Engine, keys: CurveKeys, clients
) -> None:
    monitor, _ = CurveClient.open(keys, "CP-01")
    old = keys.monitor_keypair("CP-01")
    client = clients(engine.endpoint, monitor)
    assert isinstance(client.check(health()), HealthOk)
    keys.rotate_monitor("CP-01")
    assert isinstance(client.check(health()), HealthOk)  # the open connection goes on
    fresh = clients(engine.endpoint, CurveClient(keys, "CP-01"))
    assert isinstance(fresh.check(health()), HealthOk)  # the new key gets in
    server = keys.engine_public_key()
    stale = raw_request(
        engine.endpoint, health().to_bytes(), curve=(old.public, old.secret, server)
    )
    assert stale is None  # the old one no longer does


def test_a_missing_engine_key_is_a_clear_miss(keys: CurveKeys, clients) -> None:
    monitor, _ = CurveClient.open(keys, "CP-01")
    client = clients("tcp://127.0.0.1:1", monitor)
    for _ in range(2):
        with pytest.raises(CurveKeyError, match="engine.key does not exist"):
            client.check(health())
    assert client.misses == 2


def test_the_engine_link_turns_unreachable_when_the_monitor_is_insecure_only(
    keys: CurveKeys, clients
) -> None:
    """A CURVE monitor and a plain (--insecure) engine do not talk either: said in words."""
    monitor, _ = CurveClient.open(keys, "CP-01")
    keys.ensure_engine()
    responder = HealthResponder(0, lambda h: HealthOk(h.cp_id, EngineState.IDLE))
    stop = threading.Event()
    thread = threading.Thread(target=responder.serve, args=(stop,))
    thread.start()
    try:
        client = clients(f"tcp://127.0.0.1:{responder.port}", monitor)
        with pytest.raises(EngineUnreachable, match="plain ZeroMQ"):
            client.check(health())
    finally:
        stop.set()
        thread.join(3)
        responder.close()


def test_the_default_interface_is_loopback() -> None:
    responder = HealthResponder(0, lambda h: HealthOk(h.cp_id, EngineState.IDLE))
    try:
        endpoint = responder._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        assert endpoint == f"tcp://127.0.0.1:{responder.port}"
    finally:
        responder.close()


def test_many_curve_responders_in_one_process(keys: CurveKeys, clients) -> None:
    """One ZAP handler per context: each CURVE responder has its own, so several engines (the
    tests, a gateway) can live in one process."""
    monitor, _ = CurveClient.open(keys, "CP-01")
    engines = [Engine(keys) for _ in range(3)]
    try:
        for running in engines:
            assert isinstance(clients(running.endpoint, monitor).check(health()), HealthOk)
    finally:
        for running in engines:
            running.close()
