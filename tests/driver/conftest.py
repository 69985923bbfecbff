"""Driver test helpers: a scripted Central on the real topics, and a recording listener."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driver_app.central_watch import CentralStatus
from driver_app.core import DriverListener
from driver_app.network import CpInfo
from driver_app.runtime import DriverConfig, DriverRuntime
from driver_app.services import RunView
from driver_app.session import SessionView, Step, TicketInfo
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.messages import (
    REQUESTS,
    AuthorizedNotice,
    CentralAlive,
    ChargeRequest,
    CpState,
    Denied,
    Event,
    RequestReceived,
    SupplyProgressNotice,
    SupplyStartedNotice,
    Ticket,
)
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics
from wire.timefmt import format_ts, now_ts, utc_now

SEED = [
    ("CP-01", "Harbour", 120.0, 520.0, 0.35),
    ("CP-02", "Old Town", 300.0, 300.0, 0.40),
    ("CP-03", "University", 520.0, 180.0, 0.32),
    ("CP-04", "Riverside", 700.0, 420.0, 0.38),
]


class ScriptedCentral:
    """Plays Central on the real topics: reads charge requests, writes notices and state.

    ``on_request`` (optional) is called on the consumer thread for every request; tests set
    it to script the answers (see ``full_supply``), or leave it None and answer by hand.
    """

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topics = topics
        self.producer = EventProducer(bootstrap, client_id="scripted-central")
        self.requests: list[ChargeRequest] = []
        self.on_request: Callable[[ChargeRequest], None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._alive = threading.Event()
        self._consumer = EventConsumer(
            bootstrap,
            group_id=f"scripted-central-{uuid.uuid4().hex[:8]}",
            codecs={topics.requests: REQUESTS},
            dead_letter_topic=None,
        )
        self._consumer.subscribe()
        self._threads = [
            threading.Thread(target=self._consume, daemon=True),
            threading.Thread(target=self._beat, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- network / status ----------------------------------------------------------------

    def publish_seed(self, status: str = "ACTIVE") -> None:
        for cp_id, location, x, y, price in SEED:
            self.cp_state(cp_id, status, location=location, x=x, y=y, price=price)
        self.producer.flush(10)

    def cp_state(
        self,
        cp_id: str,
        status: str,
        *,
        location: str = "Somewhere",
        x: float = 100.0,
        y: float = 100.0,
        price: float = 0.35,
    ) -> None:
        event = CpState(
            cp_id=cp_id, location=location, x=x, y=y, price=price, status=status, kw=0.0, eur=0.0
        )
        self.producer.send(self.topics.network_state, cp_id, event)
        self.producer.flush(10)

    def set_alive(self, on: bool) -> None:
        if on:
            self._alive.set()
        else:
            self._alive.clear()

    # --- notices --------------------------------------------------------------------------

    def notice(self, event: Event, *, flush: bool = True) -> None:
        self.producer.send(self.topics.driver_notices, event.driver_id, event)  # type: ignore[attr-defined]
        if flush:
            self.producer.flush(10)

    def full_supply(
        self, request: ChargeRequest, *, ticks: int = 2, deny: str | None = None
    ) -> str:
        """received → authorized → supply_started → progress×ticks → ticket; returns session id."""
        base = {"driver_id": request.driver_id, "cp_id": request.cp_id}
        self.notice(RequestReceived(request_id=request.request_id, **base), flush=False)
        session_id = uuid.uuid4().hex
        if deny is not None:
            self.notice(Denied(request_id=request.request_id, reason=deny, **base))
            return session_id
        self.notice(
            AuthorizedNotice(
                request_id=request.request_id,
                session_id=session_id,
                expires_at=format_ts(utc_now()),
                **base,
            ),
            flush=False,
        )
        started = now_ts()
        self.notice(
            SupplyStartedNotice(
                session_id=session_id, started_at=started, request_id=request.request_id, **base
            ),
            flush=False,
        )
        for i in range(1, ticks + 1):
            self.notice(
                SupplyProgressNotice(
                    session_id=session_id, kw=7.2, kwh=0.1 * i, eur=0.035 * i, **base
                ),
                flush=False,
            )
        self.notice(self.ticket_for(request, session_id, started, ticks))
        return session_id

    @staticmethod
    def ticket_for(request: ChargeRequest, session_id: str, started: str, ticks: int = 2) -> Ticket:
        return Ticket(
            session_id=session_id,
            cp_id=request.cp_id,
            driver_id=request.driver_id,
            kwh=round(0.1 * ticks, 3),
            eur=round(0.035 * ticks, 2),
            started_at=started,
            ended_at=now_ts(),
            reason="unplugged",
            request_id=request.request_id,
        )

    def requests_for(self, driver_id: str) -> list[ChargeRequest]:
        with self._lock:
            return [r for r in self.requests if r.driver_id == driver_id]

    # --- threads --------------------------------------------------------------------------

    def _consume(self) -> None:
        while not self._stop.is_set():
            self._consumer.poll(self._on_request, timeout=0.1)

    def _on_request(self, received: Received) -> None:
        request = received.event
        assert isinstance(request, ChargeRequest)
        with self._lock:
            self.requests.append(request)
        if self.on_request is not None:
            self.on_request(request)

    def _beat(self) -> None:
        started = now_ts()
        while not self._stop.wait(0.5):
            if self._alive.is_set():
                self.producer.send(
                    self.topics.central_status,
                    "central",
                    CentralAlive(central_id="scripted", started_at=started),
                )

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._consumer.close()
        self.producer.close()


class Recorder(DriverListener):
    """Thread-safe record of everything the core told its views."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: list[tuple[SessionView, Step]] = []
        self.progress: list[SessionView] = []
        self.tickets: list[tuple[TicketInfo, bool]] = []
        self.runs: list[RunView] = []
        self.reports: list[str] = []
        self.central: list[CentralStatus] = []
        self.cps: dict[str, CpInfo] = {}

    def network_changed(self, cps: list[CpInfo]) -> None:
        with self.lock:
            self.cps.update({cp.cp_id: cp for cp in cps})

    def central_changed(self, status: CentralStatus) -> None:
        with self.lock:
            self.central.append(status)

    def session_step(self, view: SessionView, step: Step) -> None:
        with self.lock:
            self.steps.append((view, step))

    def session_progress(self, view: SessionView) -> None:
        with self.lock:
            self.progress.append(view)

    def ticket_stored(self, ticket: TicketInfo, current: bool) -> None:
        with self.lock:
            self.tickets.append((ticket, current))

    def run_changed(self, view: RunView) -> None:
        with self.lock:
            self.runs.append(view)

    def report(self, text: str) -> None:
        with self.lock:
            self.reports.append(text)

    # --- queries --------------------------------------------------------------------------

    def phases(self, request_id: str | None = None) -> list[str]:
        with self.lock:
            return [
                step.phase.value
                for view, step in self.steps
                if request_id is None or view.request_id == request_id
            ]

    def last_run(self) -> RunView | None:
        with self.lock:
            return self.runs[-1] if self.runs else None


@pytest.fixture
def central(kafka_bootstrap: str, topics: Topics) -> Iterator[ScriptedCentral]:
    scripted = ScriptedCentral(kafka_bootstrap, topics)
    try:
        yield scripted
    finally:
        scripted.close()


@pytest.fixture
def start_driver(kafka_bootstrap: str, topics: Topics, tmp_path: Path):
    """Factory: start an in-process driver runtime; all are stopped at the end."""
    started: list[DriverRuntime] = []

    def start(driver_id: str = "D-001", **overrides) -> tuple[DriverRuntime, Recorder]:
        recorder = Recorder()
        options = {
            "bootstrap": kafka_bootstrap,
            "driver_id": driver_id,
            "topics": topics,
            "data_dir": tmp_path / f"driver-{driver_id}",
        }
        options.update(overrides)
        runtime = DriverRuntime(DriverConfig(**options), recorder)
        runtime.start()
        assert runtime.wait_ready(15), "driver runtime did not start"
        started.append(runtime)
        return runtime, recorder

    yield start
    for runtime in started:
        runtime.stop()
