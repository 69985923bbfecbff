"""What the checker judges: only what left the programs, as plain data.

``chaos.collect`` fills an :class:`Evidence` from the Kafka topics (read with the admin role,
sealed values opened with the keys in Central's database), the database, the engines'
journals, the programs' logs and the drivers' output, plus what the campaign itself saw (the
fault timeline, the processes' fates, Central's memory and open files sampled during the
run). The checker (``chaos.checker``) is a set of pure functions over it, so the tests feed
it made-up evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chaos.schedule import Fault
from wire.books import Row
from wire.kafka.messages import Event


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value stands in Kafka: its topic (without prefix: evc.cp.events,
    evc.driver.notices, …), partition and offset."""

    topic: str
    partition: int
    offset: int

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class Rec(Place):
    """One value read from a topic: where it is, when it was produced, what it says."""

    ts: float  # the record's timestamp (producer's clock), epoch seconds
    key: str | None
    event: Event


@dataclass(frozen=True, slots=True)
class Unopened(Place):
    """A value the checker could not open or parse (its claims cannot be verified)."""

    reason: str


@dataclass(frozen=True, slots=True)
class DbSession:
    """A row of Central's ``sessions`` table: the reconciliation's view of it plus what
    ties it to the topics."""

    row: Row
    request_id: str | None = None
    origin: str = "app"
    started_at: str | None = None
    provisional: bool = False
    amended_from: str | None = None


@dataclass(frozen=True, slots=True)
class Happened:
    """A fault as the campaign ran it (epoch seconds; ``healed_at`` None if it never was)."""

    fault: Fault
    injected_at: float | None
    healed_at: float | None
    note: str = ""
    skipped: str = ""  # why it was not injected

    @property
    def active_until(self) -> float:
        return self.healed_at if self.healed_at is not None else float("inf")

    def line(self, origin: float) -> str:
        f = self.fault
        if self.skipped:
            return f"#{f.index} {f.label}: skipped ({self.skipped})"
        start = f"t={self.injected_at - origin:6.1f}s" if self.injected_at else "t=   ?  "
        end = f"healed t={self.healed_at - origin:6.1f}s" if self.healed_at else "NEVER HEALED"
        return f"#{f.index} {start} {f.label} — {end} ({self.note})"


@dataclass(frozen=True, slots=True)
class ProcessFate:
    """A component at the end of the campaign (before the network was stopped)."""

    name: str
    kind: str
    alive: bool
    exit_code: int | None = None
    stopped_by_campaign: bool = False  # a driver told to stop after its current request
    log: str = ""


@dataclass(frozen=True, slots=True)
class Exit:
    """A component found dead during the run although no fault was acting on it."""

    name: str
    at: float
    exit_code: int | None
    tail: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    name: str  # central-a / central-b
    pid: int
    rss_kib: int
    fds: int
    kinds: str = ""  # the open files by kind ("PostgreSQL 12, Kafka 18, clients 10, …")
    role: str = ""  # active / standby, as it last announced on evc.central.status


@dataclass(frozen=True, slots=True)
class LogExcerpt:
    log: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class DriverOutput:
    driver_id: str
    requests: int  # "request N of M" lines
    no_answer: int  # "no answer in 10 s" lines


@dataclass(frozen=True, slots=True)
class Limits:
    central_rss_mib: float = 500.0
    central_fds: int = 512
    rss_growth_mib: float = 200.0
    fd_growth: int = 32
    state_recovery_s: float = 10.0


@dataclass
class Evidence:
    cps: list[str]
    records: list[Rec] = field(default_factory=list)
    unopened: list[Unopened] = field(default_factory=list)
    sessions: list[DbSession] = field(default_factory=list)
    journals: dict[str, dict] = field(default_factory=dict)  # cp_id -> leftover record
    drivers: list[DriverOutput] = field(default_factory=list)
    tracebacks: list[LogExcerpt] = field(default_factory=list)
    processes: list[ProcessFate] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    timeline: list[Happened] = field(default_factory=list)
    started_at: float = 0.0  # the campaign's t=0 (epoch)
    checked_at: float = 0.0  # when the evidence was taken (epoch), after the quiet period
    limits: Limits = field(default_factory=Limits)

    def on(self, topic: str) -> list[Rec]:
        return [r for r in self.records if r.topic == topic]
