"""A scripted charging point and driver built only from ``wire`` (no cp_node, no driver_app):
a monitor thread (CentralClient) and a fake engine (EventConsumer on its command partition +
EventProducer on cp.events), plus a driver that sends requests and collects its notices."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

from tests.waiting import wait_for
from wire.errors import WireError
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import (
    CP_COMMANDS,
    DRIVER_NOTICES,
    NETWORK_STATE,
    Authorize,
    ChargeRequest,
    Event,
    EventCodec,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics
from wire.tcp_client import CentralClient
from wire.tcp_messages import Auth, EngineHealth, Heartbeat, Register, Registered
from wire.timefmt import now_ts

REPO = Path(__file__).resolve().parents[2]


class CentralProcess:
    """``python -m central_app.main … --no-gui`` as a real child process."""

    def __init__(self, tmp: Path, kafka: str, topics: Topics, port: int, *extra: str) -> None:
        self.args = [
            sys.executable,
            "-m",
            "central_app.main",
            "--port",
            str(port),
            "--kafka",
            kafka,
            "--data-dir",
            str(tmp / "central"),
            "--topic-prefix",
            topics.prefix,
            "--no-gui",
            "--status-every",
            "2",
            "--insecure",
            "--rated-kw",  # the scripted engines report made-up energies at once
            "1000000",
            *extra,
        ]
        self.port = port
        self.db_path = tmp / "central" / "evcentral.db"
        self.log_path = tmp / "central.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        wait_for(self._listening, 20, f"EV_Central listening on {self.port} (log {self.log_path})")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"EV_Central exited {self.proc.returncode}:\n{self.log()}")
        try:
            c = CentralClient("127.0.0.1", self.port, connect_timeout=0.5)
            c.connect()
            c.close()
            return True
        except WireError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(20)


class Monitor(threading.Thread):
    """REGISTER once, then AUTH and HEARTBEAT every 0.5 s, reconnecting when Central is away."""

    def __init__(self, port: int, cp_id: str) -> None:
        super().__init__(daemon=True, name=f"monitor-{cp_id}")
        self.port, self.cp_id = port, cp_id
        self.credential: str | None = None
        self.engine = EngineHealth.OK
        self.alive: list[str] = []  # admin_state of every ALIVE
        self.stop_event = threading.Event()

    def run(self) -> None:
        client: CentralClient | None = None
        while not self.stop_event.is_set():
            try:
                if client is None or not client.connected:
                    client = CentralClient(
                        "127.0.0.1", self.port, connect_timeout=1, response_timeout=3
                    )
                    client.connect()
                    if self.credential is None:
                        reply = client.request(Register(self.cp_id, "", None, None))
                        assert isinstance(reply, Registered), reply
                        self.credential = reply.credential
                    client.request(Auth(self.cp_id, self.credential))
                reply = client.request(Heartbeat(self.cp_id, self.engine))
                self.alive.append(str(getattr(reply, "admin_state", reply)))
            except WireError:
                client = None
            self.stop_event.wait(0.5)
        if client is not None:
            client.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)


class KeyedParty:
    """A party on Kafka as the real engine or driver app is: a producer, and a consumer of
    the one partition of ``topic`` that its ``key`` falls in (what Central sends it there);
    ``poll`` gathers what came in ``events``."""

    def __init__(
        self,
        kafka: str,
        topics: Topics,
        role: str,
        key: str,
        topic: str,
        codec: EventCodec,
        *,
        from_beginning: bool = False,
    ) -> None:
        self.topics = topics
        self.producer = EventProducer(kafka, client_id=f"{role}-{key}")
        self.consumer = EventConsumer(
            kafka,
            group_id=f"{topics.prefix}{role}-{key}",
            codecs={topic: codec},
            dead_letter_topic=None,
            from_beginning=from_beginning,
        )
        self.consumer.assign_key(topic, key, topics.partitions_of(topic))
        self.events: list[Event] = []

    def poll(self) -> list[Event]:
        self.consumer.poll(lambda r: self.events.append(r.event), timeout=0.2)
        return self.events

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()


class FakeEngine(KeyedParty):
    """Reads its CP's commands; sends supply events as a test tells it."""

    def __init__(self, kafka: str, topics: Topics, cp_id: str) -> None:
        super().__init__(kafka, topics, "engine", cp_id, topics.cp_commands, CP_COMMANDS)
        self.cp_id = cp_id

    def authorization(self, timeout: float = 30.0) -> Authorize:
        """The first ``Authorize`` Central sent this CP, waited for up to ``timeout`` s."""
        return wait_for(
            lambda: next((c for c in self.poll() if isinstance(c, Authorize)), None),
            timeout,
            "authorize",
        )

    def send(self, event: Event) -> None:
        self.producer.send(self.topics.cp_events, self.cp_id, event)
        self.producer.flush(10)

    def started(self, session_id: str, driver_id: str) -> str:
        started_at = now_ts()
        self.send(
            SupplyStarted(
                session_id=session_id, cp_id=self.cp_id, driver_id=driver_id, started_at=started_at
            )
        )
        return started_at

    def progress(self, session_id: str, driver_id: str, seq: int, kwh: float, price: float) -> None:
        self.send(
            SupplyProgress(
                session_id=session_id,
                cp_id=self.cp_id,
                driver_id=driver_id,
                seq=seq,
                kw=7.4,
                kwh=kwh,
                eur=round(kwh * price, 2),
            )
        )

    def ended(
        self,
        session_id: str,
        driver_id: str,
        kwh: float,
        price: float,
        started_at: str,
        reason: str,
    ) -> None:
        self.send(
            SupplyEnded(
                session_id=session_id,
                cp_id=self.cp_id,
                driver_id=driver_id,
                kwh=kwh,
                eur=round(kwh * price, 2),
                started_at=started_at,
                ended_at=now_ts(),
                reason=reason,
            )
        )


class Driver(KeyedParty):
    """Sends a driver's requests; reads the driver's notices (``notices``)."""

    def __init__(
        self, kafka: str, topics: Topics, driver_id: str, *, from_beginning: bool = False
    ) -> None:
        """``from_beginning``: read every notice of the (test's own) topic, asking the group
        coordinator nothing — on a broker just started it may still be loading, and the
        committed-offset fetch then leaves the partition unread."""
        super().__init__(
            kafka,
            topics,
            "driver",
            driver_id,
            topics.driver_notices,
            DRIVER_NOTICES,
            from_beginning=from_beginning,
        )
        self.driver_id = driver_id

    @property
    def notices(self) -> list[Event]:
        return self.events

    def request(self, request_id: str, cp_id: str) -> None:
        self.producer.send(
            self.topics.requests,
            cp_id,
            ChargeRequest(request_id=request_id, driver_id=self.driver_id, cp_id=cp_id),
        )
        self.producer.flush(10)

    def types(self) -> list[str]:
        return [n.TYPE for n in self.notices]


def read_network_state(
    kafka: str, topics: Topics, until: Callable[[list[Received]], bool], timeout: float = 30.0
) -> list[Received]:
    """Read ``evc.network.state`` from the beginning until ``until(received)`` holds."""
    consumer = EventConsumer(
        kafka,
        group_id=f"{topics.prefix}viewer-{time.monotonic_ns()}",
        codecs={topics.network_state: NETWORK_STATE},
        dead_letter_topic=None,
        from_beginning=True,
    )
    got: list[Received] = []
    try:
        consumer.subscribe()
        deadline = time.monotonic() + timeout
        while not until(got):
            if time.monotonic() > deadline:
                raise AssertionError(f"network state never matched; got {len(got)} events")
            consumer.poll(got.append, timeout=0.3)
    finally:
        consumer.close()
    return got


class ScriptedCp(NamedTuple):
    """A CP's scripted monitor and engine, and a driver."""

    monitor: Monitor
    engine: FakeEngine
    driver: Driver


@contextmanager
def scripted_cp(
    port: int, kafka: str, topics: Topics, cp_id: str, driver_id: str
) -> Iterator[ScriptedCp]:
    """``cp_id``'s monitor (started, towards Central's ``port``) and engine, and the driver
    ``driver_id``; all of them stopped when the block ends."""
    with ExitStack() as stack:
        monitor = Monitor(port, cp_id)
        stack.callback(monitor.stop)
        monitor.start()
        engine = FakeEngine(kafka, topics, cp_id)
        stack.callback(engine.close)
        driver = Driver(kafka, topics, driver_id)
        stack.callback(driver.close)
        yield ScriptedCp(monitor, engine, driver)


class ScriptedNetwork(NamedTuple):
    """Central as a process, CP-05's scripted monitor and engine, and driver D-003."""

    central: CentralProcess
    monitor: Monitor
    engine: FakeEngine
    driver: Driver


@contextmanager
def scripted_network(
    tmp: Path, kafka: str, topics: Topics, port: int, *extra: str
) -> Iterator[ScriptedNetwork]:
    """Start Central on ``port`` (with ``extra`` arguments) and the scripted parts around it;
    all of them stopped (Central killed) when the block ends."""
    central = CentralProcess(tmp, kafka, topics, port, *extra)
    with ExitStack() as stack:
        stack.callback(central.kill)
        central.start()
        cp = stack.enter_context(scripted_cp(port, kafka, topics, "CP-05", "D-003"))
        yield ScriptedNetwork(central, *cp)
