"""What the monitor knows and what it still owes Central (no I/O).

The health loop records each HEALTH outcome with ``on_check``; the Central loop asks
``next_report`` for the FAULT or RECOVERED a transition calls for (a :class:`Report`: the
message and the engine health it stands for), and ``mark_reported`` once Central answered
NOTED. After a (re)connection ``on_session`` forgets what was reported, so a
fault that began while Central was away is reported on the new session.

``Backoff`` decides how long the Central loop waits before the next connection attempt;
``CentralAddresses`` which of Central's addresses it tries (the two of a pair);
``PartnerProbe`` when a session whose Central went silent asks the other one of the pair
whether it took over. All three are shared by EV_CP_M and EV_OCPP's per-charger links.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from wire.health_messages import CentralLink, EngineState
from wire.tcp_messages import AdminState, EngineHealth, Fault, Recovered

NO_ANSWER = "no answer"  # the reason of an UNREACHABLE check that timed out, nothing more known


@dataclass(frozen=True, slots=True)
class Report:
    """A FAULT or RECOVERED to send, and the engine health it tells Central about (what is
    remembered as reported: never read back from the message's wording)."""

    message: Fault | Recovered
    health: EngineHealth


@dataclass
class MonitorState:
    cp_id: str
    engine: EngineHealth = EngineHealth.UNREACHABLE
    engine_state: EngineState | None = None
    engine_reason: str = "not checked yet"
    central_link: CentralLink = CentralLink.DOWN
    admin_state: AdminState = AdminState.ACTIVE
    price: float = 0.0
    reported: EngineHealth | None = None
    checks: int = 0

    def on_check(
        self, health: EngineHealth, *, state: EngineState | None = None, reason: str = ""
    ) -> bool:
        """Record one HEALTH outcome; True when the engine's health kind or reason changed.

        A bare time-out ("no answer") after a refused handshake keeps the handshake's reason:
        on a fresh socket ZeroMQ's report of the refusal can come after the deadline, and the
        fault is the same (said once, not twice)."""
        if (
            health == EngineHealth.UNREACHABLE == self.engine
            and reason == NO_ANSWER
            and self.engine_reason not in ("", NO_ANSWER, "not checked yet")
        ):
            reason = self.engine_reason
        changed = (health, reason) != (self.engine, self.engine_reason) or self.checks == 0
        self.engine, self.engine_state, self.engine_reason = health, state, reason
        self.checks += 1
        return changed

    @property
    def engine_known(self) -> bool:
        """True once a health check has finished. Before that ``engine`` is only a
        placeholder: HEARTBEAT has no word for "not checked yet", and the UNREACHABLE it would
        carry turns the CP BROKEN at Central until the next heartbeat."""
        return self.checks > 0

    def fault_reason(self) -> str:
        if self.engine == EngineHealth.UNREACHABLE:
            return "engine unreachable"
        return f"engine KO: {self.engine_reason}" if self.engine_reason else "engine KO"

    def next_report(self) -> Report | None:
        if self.engine == EngineHealth.OK:
            if self.reported in (EngineHealth.KO, EngineHealth.UNREACHABLE):
                return Report(Recovered(cp_id=self.cp_id), EngineHealth.OK)
            return None
        if not self.engine_known:
            return None  # nothing known yet: the first heartbeat waits for the first check
        if self.reported != self.engine:
            return Report(Fault(cp_id=self.cp_id, reason=self.fault_reason()), self.engine)
        return None

    def mark_reported(self, report: Report) -> None:
        self.reported = report.health

    def on_session(self) -> None:
        self.reported = None


# Reconnection to Central (docs/cp.md, "Reconnecting in a restart storm").
BACKOFF_BASE = 0.2  # s: the ceiling of the first retry's wait, doubled per failure
BACKOFF_CAP = 5.0  # s: the largest ceiling; every monitor is back within 5 s of Central
AUTH_RETRY = 5.0  # s, on average: the wait after Central refused this CP or answered ERROR


@dataclass
class Backoff:
    """Exponential back-off with full jitter between connection attempts to Central.

    The wait after the n-th consecutive failure (n = 0, 1, ...) is uniform in
    ``[0, min(cap, base * 2**n)]``: 0.2, 0.4, 0.8, 1.6, 3.2 then 5 s ceilings. Full jitter
    spreads monitors that lost Central at the same instant evenly over the ceiling instead of
    letting them retry in lock-step (a synchronized herd that would hit a restarted Central
    all in the same few milliseconds, every round). ``reset()`` once a session worked.
    ``random`` returns a float in [0, 1); tests pass a fixed one.
    """

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    random: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def ceiling(self) -> float:
        """The largest wait the next ``next_delay()`` can return."""
        return min(self.cap, self.base * 2 ** min(self.failures, 32))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        delay = self.ceiling() * self.random()
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


def spread(seconds: float, random_value: float) -> float:
    """``seconds`` jittered to ``[0.5, 1.5) * seconds`` (mean ``seconds``), so that monitors
    refused at the same moment (a Central that lost its database) do not retry together."""
    return seconds * (0.5 + random_value)


NEXT_CENTRAL_S = 0.05  # pause before trying the other Central of a pair


@dataclass
class CentralAddresses:
    """Central's addresses: one, or the two of an active/standby pair (the standby answers
    ENQ with NACK). On a failure the next one is tried at once; the back-off waits only
    after a whole round failed. Shared by EV_CP_M and EV_OCPP's per-charger links."""

    addresses: list[tuple[str, int]]
    at: int = 0
    round_start: int = 0

    @classmethod
    def of(cls, central: tuple[str, int] | list[tuple[str, int]]) -> CentralAddresses:
        return cls([central] if isinstance(central, tuple) else list(central))

    @property
    def current(self) -> tuple[str, int]:
        """The address of Central now tried or served by."""
        return self.addresses[self.at]

    def served(self) -> None:
        """A session began here: after losing it, the other addresses are tried first."""
        self.round_start = self.at

    def others(self) -> list[tuple[str, int]]:
        """The addresses other than the current one (the pair partner)."""
        return [a for i, a in enumerate(self.addresses) if i != self.at]

    def move_to(self, address: tuple[str, int]) -> None:
        """The partner took over (it accepted a session while the current one was silent)."""
        self.at = self.addresses.index(address)

    def failed(self, backoff: Backoff) -> float:
        """The current address failed: move on, and return the wait before the next try
        (short while this round has untried addresses, else the back-off's)."""
        wait = backoff.next_delay()
        if len(self.addresses) > 1:
            self.at = (self.at + 1) % len(self.addresses)
            if self.at != self.round_start:
                return NEXT_CENTRAL_S
        return wait


# A pair's active silent this long mid-exchange: ask the partner whether it took over, then
# again every PROBE_EVERY_S (the takeover follows the active's lease, 3 s, by a second or so).
PROBE_AFTER_S = 2.0
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 1.0  # connect and ENQ of one probe: a frozen partner costs no more


@dataclass
class PartnerProbe:
    """When a link to a pair, its Central silent mid-exchange (frozen, cut off), asks the
    other Central whether it took over: once silent ``after``, then every ``every``. Without
    it the link waits out its response time-out (10 s) before trying the other address,
    longer than the pair's takeover and than ``state``'s 10 s (evc-chaos). The probe itself
    (a session attempt the standby refuses with NACK) is the caller's I/O."""

    after: float = PROBE_AFTER_S
    every: float = PROBE_EVERY_S
    last: float = float("-inf")

    def due(self, centrals: CentralAddresses, silent_s: float, now: float) -> bool:
        """True when a probe should leave now (and counts it as sent)."""
        if len(centrals.addresses) < 2 or silent_s < self.after or now - self.last < self.every:
            return False
        self.last = now
        return True
