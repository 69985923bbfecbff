"""What the history queries return: small frozen records, no ORM objects (they cross threads)."""

from __future__ import annotations

from dataclasses import dataclass

from wire.timefmt import parse_ts


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which tickets: every field optional; times are wire timestamps (UTC), ``until``
    exclusive; a ticket belongs to the period in which it *ended*."""

    cp_id: str | None = None
    driver_id: str | None = None
    since: str | None = None
    until: str | None = None
    reason: str | None = None
    flagged: bool = False  # only tickets flagged for the operator (central_app.energy_check)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    cp_id: str
    driver_id: str
    started_at: str
    ended_at: str
    kwh: float
    eur: float
    reason: str
    flag: str = ""  # why this is not the engine's final reading (empty: it is)
    amended_from: str = ""  # what the ticket said before the engine's final reading amended it

    @property
    def duration_s(self) -> float:
        try:
            return max(0.0, (parse_ts(self.ended_at) - parse_ts(self.started_at)).total_seconds())
        except ValueError:
            return 0.0


@dataclass(frozen=True, slots=True)
class Totals:
    sessions: int = 0
    kwh: float = 0.0
    eur: float = 0.0


@dataclass(frozen=True, slots=True)
class CpReport:
    cp_id: str
    sessions: int
    kwh: float
    eur: float
    faults: int


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: str  # YYYY-MM-DD (UTC)
    sessions: int
    kwh: float
    eur: float


@dataclass(frozen=True, slots=True)
class StateChange:
    ts: str
    cp_id: str
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    """One spell of BROKEN: when it began, why, and how long it lasted (None: still broken
    at the end of the period asked for)."""

    started_at: str
    reason: str
    duration_s: float | None
