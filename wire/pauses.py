"""Noticing that this process itself stood still: SIGSTOP, a long garbage collection, a swap
storm, a paused virtual machine.

While the process stands still, so does everything in it: what peers send meanwhile waits in
the sockets and queues, unread. A timer that judges a peer's silence by the clock counts that
time as the peer's when it wakes, and condemns peers whose messages are waiting to be read
(issue 21: every CP DISCONNECTED, every supply ``monitor_lost``, within milliseconds of
SIGCONT): after SIGCONT the interrupted poll returns, and the event loop (uvloop's and
asyncio's alike) runs its overdue timers before it polls the sockets again.

The process notices from its own periodic timer: a tick that comes later than its period by
more than ``threshold`` means the process did not run for that long. ``PauseWatch.check``
says how long (the owner of a deadline can move it by that much); ``PauseWatch.holding`` is
true for ``hold`` seconds after, while the loop reads what waited, so nobody is judged
silent before being heard. Plain Python: callers pass ``time.monotonic()``, tests a fake clock.
"""

from __future__ import annotations

#: A tick later than its period by more than this (s) means the process stood still. Below
#: it nothing is excused: a 3 s heartbeat timeout leaves that slack beside a 1 s heartbeat.
PAUSE_THRESHOLD = 1.0
#: Seconds without judging after a pause: a heartbeat period, so every live monitor's frame
#: (sent during the pause, waiting in its socket) has been read.
PAUSE_HOLD = 1.0


class PauseWatch:
    """How late a periodic timer runs, as a measure of the process standing still."""

    def __init__(
        self,
        period: float,
        *,
        started: float | None = None,
        threshold: float = PAUSE_THRESHOLD,
        hold: float = PAUSE_HOLD,
    ) -> None:
        """``started``: when the timer started (else its first tick is only the baseline)."""
        self.period = period
        self.threshold = threshold
        self.hold = hold
        self._last_tick = started
        self._resumed_at: float | None = None

    def check(self, now: float) -> float:
        """Call on every tick: the seconds the process stood still since the previous tick
        (beyond the period), or 0.0 when it ran on time or late by ``threshold`` at most."""
        last, self._last_tick = self._last_tick, now
        if last is None:
            return 0.0
        late = now - last - self.period
        if late <= self.threshold:
            return 0.0
        self._resumed_at = now
        return late

    def holding(self, now: float) -> bool:
        """Less than ``hold`` seconds since a pause ended: judge nobody's silence yet."""
        return self._resumed_at is not None and now - self._resumed_at < self.hold
