"""Fixtures for Central's tests: a real in-process runtime (Kafka pointed at a dead port
unless a test says otherwise), raw framed-TCP helpers, and a recording listener."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from central_app.config import CentralConfig
from central_app.runtime import CentralRuntime
from central_app.views import CpView, LinkStatus, LogEntry, RequestView
from tests.procs import free_port
from tests.waiting import wait_for
from wire.framing import lrc
from wire.kafka.messages import Authorize
from wire.kafka.topics import Topics
from wire.tcp_client import CentralClient
from wire.tcp_messages import Auth, Authorized, Register, Registered

if TYPE_CHECKING:
    from tests.central.scripted import ScriptedCp


class Recorder:
    """A CentralListener that keeps everything it was told."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cps: list[CpView] = []
        self.requests: list[RequestView] = []
        self.logs: list[LogEntry] = []
        self.links: list[LinkStatus] = []

    def cp_changed(self, cp: CpView) -> None:
        with self.lock:
            self.cps.append(cp)

    def request_changed(self, request: RequestView) -> None:
        with self.lock:
            self.requests.append(request)

    def logged(self, entry: LogEntry) -> None:
        with self.lock:
            self.logs.append(entry)

    def links_changed(self, links: LinkStatus) -> None:
        with self.lock:
            self.links.append(links)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def offline_config(tmp_path: Path) -> CentralConfig:
    """Central with its own SQLite file in ``tmp_path`` and no Kafka (a port nobody uses),
    on plain TCP: TLS has its own tests (tests/test_tcp_tls.py)."""
    return CentralConfig(
        port=0,
        host="127.0.0.1",
        kafka=f"127.0.0.1:{free_port()}",
        db_url=f"sqlite:///{tmp_path / 'central.db'}",
        topic_prefix="unit.",
        insecure=True,
    )


@pytest.fixture
def central(tmp_path: Path, recorder: Recorder) -> Iterator[CentralRuntime]:
    """Central with its own SQLite file, the seed data, and no Kafka (a port nobody uses)."""
    runtime = CentralRuntime(offline_config(tmp_path))
    runtime.add_listener(recorder)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def make_runtime(
    tmp_path: Path, kafka: str, topics: Topics, recorder: Recorder, **config: Any
) -> CentralRuntime:
    """Central in-process on ``kafka`` with its own SQLite file (plain TCP and PLAINTEXT
    Kafka unless ``config`` says otherwise). The scripted engines of these tests report
    made-up energies at once, so the CPs' rating is no limit here (tests/central/
    test_energy_check.py tests it)."""
    settings: dict[str, Any] = {
        "ticket_grace": 5.0,
        "insecure": True,
        "rated_kw": 1_000_000.0,
        **config,
    }
    runtime = CentralRuntime(
        CentralConfig(
            port=0,
            host="127.0.0.1",
            kafka=kafka,
            db_url=f"sqlite:///{tmp_path / 'central.db'}",
            topic_prefix=topics.prefix,
            **settings,
        )
    )
    runtime.add_listener(recorder)
    return runtime


@pytest.fixture
def running(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> Iterator[CentralRuntime]:
    """A started Central on the session's broker (see ``make_runtime``)."""
    runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def status_of(runtime: CentralRuntime, cp_id: str) -> str | None:
    for view in runtime.snapshot():
        if view.cp_id == cp_id:
            return view.status.value
    return None


def supplying(
    runtime: CentralRuntime, recorder: Recorder, cp: ScriptedCp, request_id: str, kwh: float
) -> tuple[Authorize, str]:
    """A supply under way at the scripted ``cp``: once it is ACTIVE and Central's Kafka link
    is up, its driver's request ``request_id`` is authorized, the engine starts and reports
    ``kwh``, and Central shows SUPPLYING. Returns the authorization and the start time."""
    cp_id, driver_id = cp.engine.cp_id, cp.driver.driver_id
    wait_for(lambda: status_of(runtime, cp_id) == "ACTIVE", 10, f"{cp_id} ACTIVE")
    wait_for(lambda: any(link.kafka_up for link in recorder.links), 30, "Kafka up")
    cp.driver.request(request_id, cp_id)
    auth = cp.engine.authorization()
    started_at = cp.engine.started(auth.session_id, driver_id)
    cp.engine.progress(auth.session_id, driver_id, 0, kwh, auth.price)
    wait_for(lambda: status_of(runtime, cp_id) == "SUPPLYING", 20, "SUPPLYING")
    return auth, started_at


def client(runtime: CentralRuntime, timeout: float = 10.0) -> CentralClient:
    c = CentralClient("127.0.0.1", runtime.port, connect_timeout=timeout, response_timeout=timeout)
    c.connect()
    return c


def register_and_auth(c: CentralClient, cp_id: str, location: str = "Harbour") -> str:
    registered = c.request(Register(cp_id, location, 700.0, 600.0))
    assert isinstance(registered, Registered), registered
    authorized = c.request(Auth(cp_id, registered.credential))
    assert isinstance(authorized, Authorized), authorized
    return registered.credential


def raw_frame(text: str, *, bad_lrc: bool = False) -> bytes:
    data = text.encode()
    check = lrc(data) ^ (0xFF if bad_lrc else 0)
    return b"\x02" + data + b"\x03" + bytes([check])


def raw_session(runtime: CentralRuntime) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", runtime.port), timeout=10)
    sock.sendall(b"\x05")
    assert sock.recv(1) == b"\x06"
    return sock
