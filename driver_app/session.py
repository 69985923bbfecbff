"""One charge request, from the driver's click to its end, as a pure state machine.

The session is fed the driver notices Central sends (``evc.driver.notices``) and the clock;
it never does I/O, so the console, the Qt client and the tests drive the very same object::

    REQUESTED ──received──▶ RECEIVED ──authorized──▶ AUTHORIZED ──supply_started──▶ SUPPLYING
        │                      │                         │                              │
        │ 10 s silent          │ 10 s silent /denied     │ denied / expires_at + 10 s    │ ticket
        ▼                      ▼                         ▼                              ▼
     TIMED_OUT              DENIED / TIMED_OUT        DENIED / TIMED_OUT      FINISHED / INTERRUPTED

A request that timed out still accepts a late answer for its ``request_id`` (Central may just
have been slow), so the driver sees what really happened instead of a stale error. A ticket
that arrives after ``supply_interrupted`` is attached to the interrupted session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from wire.kafka.messages import (
    AuthorizedNotice,
    Denied,
    Event,
    RequestReceived,
    SupplyInterrupted,
    SupplyProgressNotice,
    SupplyStartedNotice,
    Ticket,
)
from wire.reasons import describe_reason, is_interruption
from wire.states import Origin
from wire.timefmt import format_elapsed as format_elapsed
from wire.timefmt import format_ts, parse_ts, utc_now

CANNOT_REACH_CENTRAL = "Cannot reach CENTRAL"

Notice = (
    RequestReceived
    | AuthorizedNotice
    | Denied
    | SupplyStartedNotice
    | SupplyProgressNotice
    | SupplyInterrupted
    | Ticket
)


class Phase(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    AUTHORIZED = "authorized"
    SUPPLYING = "supplying"
    FINISHED = "finished"
    DENIED = "denied"
    INTERRUPTED = "interrupted"
    TIMED_OUT = "timed_out"


#: Phases after which nothing more is expected (a late ticket may still be attached).
ENDED = frozenset({Phase.FINISHED, Phase.DENIED, Phase.INTERRUPTED, Phase.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the session's story: when (wire timestamp), what phase, what to show."""

    at: str
    phase: Phase
    text: str


@dataclass(frozen=True, slots=True)
class TicketInfo:
    session_id: str
    cp_id: str
    kwh: float
    eur: float
    started_at: str
    ended_at: str
    reason: str

    @classmethod
    def from_notice(cls, ticket: Ticket) -> TicketInfo:
        return cls(
            session_id=ticket.session_id,
            cp_id=ticket.cp_id,
            kwh=ticket.kwh,
            eur=ticket.eur,
            started_at=ticket.started_at,
            ended_at=ticket.ended_at,
            reason=ticket.reason,
        )

    @property
    def duration_s(self) -> float:
        try:
            return (parse_ts(self.ended_at) - parse_ts(self.started_at)).total_seconds()
        except ValueError:
            return 0.0

    def amended_summary(self, was: TicketInfo | None) -> str:
        before = f" (was {was.kwh:.3f} kWh, {was.eur:.2f} €)" if was is not None else ""
        return (
            f"{self.cp_id} ticket corrected with the charger's final meter reading — "
            f"{self.kwh:.3f} kWh, {self.eur:.2f} €{before}"
        )

    def summary(self) -> str:
        return (
            f"ticket — {self.kwh:.3f} kWh, {self.eur:.2f} €, "
            f"{format_elapsed(self.duration_s)} ({describe_reason(self.reason)})"
        )


@dataclass(frozen=True, slots=True)
class SessionView:
    """An immutable snapshot handed to views (console lines, Qt panel) from any thread."""

    request_id: str
    cp_id: str
    location: str
    phase: Phase
    session_id: str | None
    reason: str | None
    kw: float
    kwh: float
    eur: float
    supply_started_at: str | None
    steps: tuple[Step, ...]
    ticket: TicketInfo | None
    resumed: bool
    progress_at: str | None = None  # ts of the last progress notice (replays show its time)
    card: bool = False  # authorized at the CP itself (the driver's card), not in this app

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    def elapsed_s(self, now: datetime | None = None) -> float:
        """Seconds of supply so far (or in all, once there is a ticket)."""
        if self.ticket is not None:
            return self.ticket.duration_s
        if self.supply_started_at is None:
            return 0.0
        try:
            start = parse_ts(self.supply_started_at)
        except ValueError:
            return 0.0
        return max(0.0, ((now or utc_now()) - start).total_seconds())


@dataclass(slots=True)
class ChargeSession:
    """The mutable state of one request; only the core's thread touches it."""

    request_id: str
    cp_id: str
    driver_id: str
    created: float  # monotonic seconds, for the answer timeout
    timeout_s: float = 10.0
    location: str = ""
    resumed: bool = False  # adopted from notices after a restart, not requested in this run
    # authorized at the CP itself (the driver's card at an OCPP charger: AuthorizedNotice with
    # origin cp), not requested in any app: the CP is reserved by the card until expires_at
    card: bool = False
    phase: Phase = Phase.REQUESTED
    session_id: str | None = None
    reason: str | None = None
    kw: float = 0.0
    kwh: float = 0.0
    eur: float = 0.0
    supply_started_at: str | None = None
    expires_at: str | None = None
    progress_at: str | None = None
    authorized_mono: float | None = None
    ticket: TicketInfo | None = None
    steps: list[Step] = field(default_factory=list)

    # --- questions -------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    def owns(self, notice: Event) -> bool:
        """Is this notice about this request (by request_id) or its supply (by session_id)?"""
        request_id = getattr(notice, "request_id", None)
        session_id = getattr(notice, "session_id", None)
        if session_id is not None and self.session_id is not None:
            return session_id == self.session_id
        return request_id is not None and request_id == self.request_id

    def view(self) -> SessionView:
        return SessionView(
            request_id=self.request_id,
            cp_id=self.cp_id,
            location=self.location,
            phase=self.phase,
            session_id=self.session_id,
            reason=self.reason,
            kw=self.kw,
            kwh=self.kwh,
            eur=self.eur,
            supply_started_at=self.supply_started_at,
            steps=tuple(self.steps),
            ticket=self.ticket,
            resumed=self.resumed,
            progress_at=self.progress_at,
            card=self.card,
        )

    # --- transitions -----------------------------------------------------------------------

    def start(self) -> Step:
        where = f" ({self.location})" if self.location else ""
        return self._step(Phase.REQUESTED, f"charge requested{where}")

    def apply(self, notice: Notice, now: float) -> Step | None:
        """Feed one notice; returns the new step to show, or None if nothing visible changed.

        Progress notices update the live numbers and return None (views refresh numbers
        without adding a line to the story).
        """
        if isinstance(notice, Ticket):
            return self._on_ticket(notice)
        if isinstance(notice, SupplyProgressNotice):
            return self._on_progress(notice)
        if self.phase in (Phase.FINISHED, Phase.DENIED, Phase.INTERRUPTED):
            return None  # a late duplicate of an earlier step
        if isinstance(notice, RequestReceived):
            if self.phase not in (Phase.REQUESTED, Phase.TIMED_OUT):
                return None
            if self.card:
                return self._step(Phase.RECEIVED, f"your card at {notice.cp_id}: checking")
            return self._step(Phase.RECEIVED, "request received by Central")
        if isinstance(notice, AuthorizedNotice):
            if self.phase not in (Phase.REQUESTED, Phase.RECEIVED, Phase.TIMED_OUT):
                return None
            self.session_id = notice.session_id
            self.expires_at = notice.expires_at
            self.authorized_mono = now
            if notice.origin == Origin.CP:  # the card's (even when adopted before it said so)
                self.card, self.resumed = True, False
            where = f" ({self.location})" if self.location else ""
            if self.card:
                return self._step(
                    Phase.AUTHORIZED, f"reserved by your card at {notice.cp_id}{where}"
                )
            return self._step(Phase.AUTHORIZED, f"authorized — plug in at {notice.cp_id}{where}")
        if isinstance(notice, Denied):
            if self.phase == Phase.SUPPLYING:
                return None
            self.reason = notice.reason
            self.session_id = notice.session_id or self.session_id
            return self._step(Phase.DENIED, f"denied — {describe_reason(notice.reason)}")
        if isinstance(notice, SupplyStartedNotice):
            if self.phase == Phase.SUPPLYING:
                return None
            self.session_id = notice.session_id
            self.supply_started_at = notice.started_at
            return self._step(Phase.SUPPLYING, "supplying — charging started")
        if isinstance(notice, SupplyInterrupted):
            self.reason = notice.reason
            self.session_id = notice.session_id
            self.kwh, self.eur, self.kw = notice.kwh, notice.eur, 0.0
            return self._step(
                Phase.INTERRUPTED,
                f"interrupted — {describe_reason(notice.reason)} "
                f"({notice.kwh:.3f} kWh, {notice.eur:.2f} €)",
            )
        return None

    def tick(self, now: float, wall: datetime | None = None) -> Step | None:
        """Time passes: no answer within the timeout ends the request with a clear message."""
        if self.phase in (Phase.REQUESTED, Phase.RECEIVED):
            if now - self.created >= self.timeout_s:
                self.reason = CANNOT_REACH_CENTRAL
                return self._step(
                    Phase.TIMED_OUT,
                    f"no answer in {self.timeout_s:g} s — {CANNOT_REACH_CENTRAL}",
                )
        elif self.phase == Phase.AUTHORIZED and self.expires_at is not None:
            try:
                expires = parse_ts(self.expires_at)
            except ValueError:
                return None
            overdue = ((wall or utc_now()) - expires).total_seconds()
            if overdue >= self.timeout_s:
                self.reason = "authorization expired"
                return self._step(
                    Phase.TIMED_OUT, "authorization expired — the vehicle was not plugged in"
                )
        return None

    # --- helpers ---------------------------------------------------------------------------

    def _on_progress(self, notice: SupplyProgressNotice) -> Step | None:
        if self.phase in ENDED and self.phase != Phase.TIMED_OUT:
            return None
        self.session_id = notice.session_id
        self.kw, self.kwh, self.eur = notice.kw, notice.kwh, notice.eur
        self.progress_at = notice.ts
        if self.phase != Phase.SUPPLYING:
            # Supply already running (e.g. the started notice was consumed before a restart).
            self.supply_started_at = self.supply_started_at or notice.ts
            return self._step(Phase.SUPPLYING, "supplying — charging in progress")
        return None

    def _on_ticket(self, notice: Ticket) -> Step | None:
        if self.ticket is not None:
            return None
        self.ticket = TicketInfo.from_notice(notice)
        self.session_id = notice.session_id
        self.kwh, self.eur, self.kw = notice.kwh, notice.eur, 0.0
        self.supply_started_at = self.supply_started_at or notice.started_at
        text = self.ticket.summary()
        if self.phase == Phase.INTERRUPTED:
            return self._step(Phase.INTERRUPTED, text)
        self.reason = notice.reason
        if is_interruption(notice.reason):
            # Central sends supply_interrupted before such a ticket; should that notice be
            # missing (a Central of an older version), the driver is still not told "finished"
            return self._step(
                Phase.INTERRUPTED, f"interrupted — {describe_reason(notice.reason)}, {text}"
            )
        return self._step(Phase.FINISHED, f"finished, {text}")

    def _step(self, phase: Phase, text: str) -> Step:
        self.phase = phase
        step = Step(at=format_ts(utc_now()), phase=phase, text=text)
        self.steps.append(step)
        return step


__all__ = [
    "CANNOT_REACH_CENTRAL",
    "ENDED",
    "ChargeSession",
    "Notice",
    "Phase",
    "SessionView",
    "Step",
    "TicketInfo",
    "describe_reason",
    "format_elapsed",
]
