"""The monitor ⇄ engine link under attack (issue 19, defect 5; docs/security.md, layer 7): a
real EngineService, real ZeroMQ sockets, the real broker.

Over plain ZeroMQ (``--insecure``, and every engine before CURVE) anyone who reaches the
engine's port replaces the CP's key with ``KEY#cp#…``, and the CP then refuses Central's
genuine commands. Over CURVE the same KEY, from a plain socket or from a CURVE socket whose key
the engine does not hold, never reaches the engine: ZeroMQ drops it at the handshake.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from cp_node.engine_main import build_parser
from cp_node.engine_service import EngineService
from tests.cp.fake_monitor import FakeMonitor
from tests.cp.test_sealed_commands import Central, _authorized
from tests.cp.test_sealed_commands import _engine as sealed_engine
from tests.waiting import wait_for
from wire.curve import CurveClient, CurveKeys, CurveServer
from wire.health_messages import HealthOk, Key
from wire.kafka.producer import EventProducer
from wire.kafka.sealed import key_bytes, new_key
from wire.kafka.topics import Topics

CP = "CP-S1"  # the id test_sealed_commands.Central seals for

pytestmark = pytest.mark.kafka


class Log:
    """The engine's technician messages, kept (``drain_log`` empties the service's)."""

    def __init__(self, engine: EngineService) -> None:
        self.engine, self.lines = engine, []

    def has(self, text: str) -> bool:
        self.lines += self.engine.drain_log()
        return any(text in line for line in self.lines)


def stranger(port: int, payload: bytes, curve: tuple[bytes, bytes, bytes] | None = None):
    """What an attacker who reaches the port does: one request on a bare REQ socket (plain,
    or CURVE with its own (public, secret) and the engine's public key). The reply, or None
    when none came within a second (the engine answers within milliseconds)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    try:
        if curve is not None:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = curve
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send(payload)
        return sock.recv() if sock.poll(1000) else None
    finally:
        sock.close(linger=0)


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def central(producer: EventProducer, topics: Topics, key: str) -> Central:
    return Central(producer, topics, key)


def _engine(kafka: str, topics: Topics, tmp_path: Path, curve: CurveServer | None) -> EngineService:
    extra = {} if curve is None else {"curve": curve}
    engine = sealed_engine(kafka, topics, tmp_path, **extra)
    engine.start()
    return engine


def _keyed(engine: EngineService, monitor: FakeMonitor, key: str) -> None:
    wait_for(lambda: engine.machine.cp_id == CP, 5, "the engine to learn its CP id")
    monitor.give_key(key)
    wait_for(lambda: monitor.key_replies, 5, "the KEY reply")
    assert isinstance(monitor.key_replies[-1], HealthOk)
    wait_for(lambda: engine._consumer is not None, 10, "the command consumer")


@pytest.fixture
def curve_keys(tmp_path: Path) -> CurveKeys:
    return CurveKeys(tmp_path / "curve")


def test_over_plain_zeromq_anyone_who_reaches_the_port_replaces_the_key(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, central: Central, key: str
) -> None:
    """The defect, as it was by default and as ``--insecure`` still is."""
    engine = _engine(kafka_bootstrap, topics, tmp_path, curve=None)
    monitor = FakeMonitor(engine.responder.port)
    log = Log(engine)
    try:
        _keyed(engine, monitor, key)
        forged = new_key()
        reply = stranger(engine.responder.port, Key(cp_id=CP, key=forged).to_bytes())
        assert reply is not None and reply.startswith(f"OK#{CP}#".encode())
        assert engine._key == key_bytes(forged)  # replaced
        # and the CP now refuses Central's genuine commands
        auth = central.authorize()
        central.send(auth)
        wait_for(lambda: log.has("Refused a forged command"), 15, "the genuine authorize refused")
        assert not _authorized(engine, auth.session_id)
    finally:
        monitor.close()
        engine.close()


def test_over_curve_no_stranger_gets_a_key_through(
    kafka_bootstrap: str,
    topics: Topics,
    tmp_path: Path,
    central: Central,
    key: str,
    curve_keys: CurveKeys,
) -> None:
    server, _ = CurveServer.open(curve_keys)
    genuine, _ = CurveClient.open(curve_keys, CP)
    other_cp, _ = CurveClient.open(curve_keys, "CP-S2")  # a real monitor key, of another CP
    engine = _engine(kafka_bootstrap, topics, tmp_path, curve=server)
    monitor = FakeMonitor(engine.responder.port, curve=genuine)
    log = Log(engine)
    try:
        _keyed(engine, monitor, key)
        port = engine.responder.port
        engine_public = curve_keys.engine_public_key()
        payload = Key(cp_id=CP, key=new_key()).to_bytes()
        # a plain REQ socket: no answer
        assert stranger(port, payload) is None
        # a CURVE socket with a key of its own (it knows the engine's public key): no answer
        public, secret = zmq.curve_keypair()
        assert stranger(port, payload, curve=(public, secret, engine_public)) is None
        # another CP's monitor key: the engine serves CP-S1 now, so refused at the handshake
        other = curve_keys.monitor_keypair(other_cp.cp_id)
        assert stranger(port, payload, curve=(other.public, other.secret, engine_public)) is None

        assert engine._key == key_bytes(key)  # unchanged
        assert not log.has("New key from the monitor")
        # the genuine monitor keeps working, and Central's genuine command is obeyed
        answered = len(monitor.replies)
        wait_for(lambda: len(monitor.replies) > answered + 2, 5, "more HEALTH answers")
        assert all(isinstance(reply, HealthOk) for reply in monitor.replies)
        auth = central.authorize()
        central.send(auth)
        wait_for(lambda: _authorized(engine, auth.session_id), 15, "the genuine authorize")
        assert not log.has("Refused")
    finally:
        monitor.close()
        engine.close()


def test_the_engine_listens_on_loopback_by_default(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    assert build_parser().parse_args(["--kafka", "k:1", "--port", "1"]).bind == "127.0.0.1"
    engine = EngineService(
        bootstrap=kafka_bootstrap,
        port=0,
        topics=topics,
        journal_dir=tmp_path / "journal",
        insecure=True,
    )
    try:
        endpoint = engine.responder._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        assert endpoint == f"tcp://127.0.0.1:{engine.responder.port}"
    finally:
        engine.responder.close()
        engine.producer.close(0.5)
