"""Fixtures for the charging-point tests: real engine/monitor processes, a test Central,
and Kafka helpers (a collector of events on a topic, a producer of commands)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cp.fake_central import FakeCentral
from tests.procs import Proc
from tests.waiting import wait_for
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import CP_EVENTS, REQUESTS, Event, EventCodec
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics

REPO = Path(__file__).resolve().parents[2]

# The panel tests build Qt widgets in this process: no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class CpLauncher:
    """Starts EV_CP_E / EV_CP_M as real programs and cleans them up."""

    def __init__(self, kafka: str, topics: Topics, tmp: Path, central: FakeCentral) -> None:
        self.kafka, self.topics, self.tmp, self.central = kafka, topics, tmp, central
        self.procs: list[Proc] = []

    @property
    def curve_dir(self) -> Path:
        """The engine link's CURVE keys of secure programs (never the user's own folder)."""
        return self.tmp / "curve"

    def engine(
        self,
        port: int,
        *extra: str,
        tty: bool = False,
        name: str = "engine",
        secure: bool = False,
        module: str = "cp_node.engine_main",
    ) -> Proc:
        """``secure``: sealed commands and events (the test Central must issue keys) and CURVE
        on the monitor link; else ``--insecure`` (plain values, as these tests were written).
        ``module``: the program (e.g. ``tests.cp.slow_disk_engine``, EV_CP_E on a slow disk)."""
        args = [
            "--kafka",
            self.kafka,
            "--port",
            str(port),
            "--topic-prefix",
            self.topics.prefix,
            "--journal-dir",
            str(self.tmp / "journal"),
            "--no-gui",
            "--log-level",
            os.environ.get("EVC_CP_TEST_LOG", "WARNING"),
            *(["--curve-dir", str(self.curve_dir)] if secure else ["--insecure"]),
            *extra,
        ]
        proc = Proc(name, module, args, self._log(name), tty=tty)
        self.procs.append(proc)
        return proc

    def monitor(
        self, cp_id: str, engine_port: int, *extra: str, central_ca: Path | None = None
    ) -> Proc:
        """``central_ca``: secure (TLS to a ``FakeCentral`` with ``tls``, CURVE to the engine);
        else ``--insecure``."""
        secure = ["--central-ca", str(central_ca), "--curve-dir", str(self.curve_dir)]
        args = [
            "--engine",
            f"127.0.0.1:{engine_port}",
            "--central",
            f"127.0.0.1:{self.central.port}",
            "--cp-id",
            cp_id,
            "--location",
            "Test street 1",
            "--credentials-dir",
            str(self.tmp / "creds"),
            *(secure if central_ca is not None else ["--insecure"]),  # plain TCP, plain ZeroMQ
            *extra,
        ]
        name = f"monitor-{cp_id}"
        proc = Proc(name, "cp_node.monitor_main", args, self._log(name))
        self.procs.append(proc)
        return proc

    def _log(self, name: str) -> Path:
        """Where the program ``name`` keeps its output (``tests.procs.Proc`` copies it)."""
        return self.tmp / "logs" / f"{name}.log"

    def close(self) -> None:
        for proc in self.procs:
            proc.close()
            if os.environ.get("EVC_CP_TEST_LOG"):
                print(f"----- {proc.name} -----\n{proc.output()}")
        tracebacks = [p.name for p in self.procs if "Traceback" in p.output()]
        assert not tracebacks, f"a program showed a traceback: {tracebacks}"


class Collector:
    """Collects every event of one topic (a fresh group, from the beginning) in a thread."""

    def __init__(self, kafka: str, topic: str, codec: EventCodec) -> None:
        self.events: list[tuple[float, Event]] = []
        self._stop = threading.Event()
        self._consumer = EventConsumer(
            kafka,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
            codecs={topic: codec},
            dead_letter_topic=None,
        )
        self._consumer.subscribe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._consumer.poll(self._on, timeout=0.2)
        finally:
            self._consumer.close()

    def _on(self, received: Received) -> None:
        self.events.append((time.monotonic(), received.event))

    def of(self, kind: str, **match: object) -> list[Event]:
        return [
            e
            for _, e in list(self.events)
            if kind == e.TYPE and all(getattr(e, k, None) == v for k, v in match.items())
        ]

    def wait(self, kind: str, timeout: float = 10.0, **match: object) -> Event:
        return wait_for(lambda: (self.of(kind, **match) or [None])[-1], timeout, f"{kind} {match}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def central() -> Iterator[FakeCentral]:
    fake = FakeCentral()
    fake.start()
    yield fake
    fake.shutdown()


@pytest.fixture
def launcher(kafka_bootstrap: str, topics: Topics, tmp_path: Path, central: FakeCentral):
    cp = CpLauncher(kafka_bootstrap, topics, tmp_path, central)
    yield cp
    cp.close()


@pytest.fixture
def cp_events(kafka_bootstrap: str, topics: Topics) -> Iterator[Collector]:
    collector = Collector(kafka_bootstrap, topics.cp_events, CP_EVENTS)
    yield collector
    collector.close()


@pytest.fixture
def requests_seen(kafka_bootstrap: str, topics: Topics) -> Iterator[Collector]:
    collector = Collector(kafka_bootstrap, topics.requests, REQUESTS)
    yield collector
    collector.close()


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[EventProducer]:
    prod = EventProducer(kafka_bootstrap, client_id="cp-tests")
    yield prod
    prod.close(2.0)
