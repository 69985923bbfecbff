"""Is Central reachable? Decided from ``central_alive`` (sent every second) and the clock.

Pure: the caller passes monotonic seconds. Central is *online* (``CentralLink.UP``, the same
type the monitor tells its engine in HEALTH) while an alive from a serving Central (a lone one,
or the active one of a pair; a standby's are ignored) arrived within the last ``silence_s``
seconds; before the first one it is *unknown* (``None``) for ``silence_s`` seconds after start
(the app just launched), then *unreachable* (``CentralLink.DOWN``). When the Kafka broker comes
back after an outage Central is *unknown* again for ``silence_s``: its next alive is on its
way, and "Cannot reach CENTRAL" would be wrong the moment the broker is back.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.health_messages import CentralLink
from wire.kafka.messages import CentralAlive

__all__ = ["CentralLink", "CentralStatus", "CentralWatch"]


@dataclass(frozen=True, slots=True)
class CentralStatus:
    link: CentralLink | None  # None: not known yet (just started, or the broker just came back)
    central_id: str | None
    started_at: str | None  # when that Central instance started (changes after a restart)
    broker_up: bool = True

    @property
    def key(self) -> str:
        """A one-word name of the state, for style sheets: online, unknown, unreachable."""
        return {CentralLink.UP: "online", None: "unknown"}.get(self.link, "unreachable")

    @property
    def text(self) -> str:
        if self.link is CentralLink.UP:
            # which Central serves (the active one of a pair changes on a failover)
            return f"Central online ({self.central_id})" if self.central_id else "Central online"
        if self.link is None:
            return "Connecting to CENTRAL…"
        if not self.broker_up:
            return "Cannot reach CENTRAL (Kafka broker unreachable)"
        return "Cannot reach CENTRAL"


class CentralWatch:
    def __init__(self, started: float, silence_s: float = 3.0) -> None:
        self._started = started
        self._silence_s = silence_s
        self._last_alive: float | None = None
        self._central_id: str | None = None
        self._central_started: str | None = None
        self._broker_up = True
        self._waiting_since = started  # since when an alive is awaited (start, broker back)
        self._status = self._compute(started)

    @property
    def status(self) -> CentralStatus:
        return self._status

    @property
    def online(self) -> bool:
        return self._status.link is CentralLink.UP

    def alive(self, event: CentralAlive, now: float) -> CentralStatus | None:
        if not event.serving:
            return None  # a standby Central is there, but serves nobody
        self._last_alive = now
        self._central_id = event.central_id
        self._central_started = event.started_at
        return self._update(now)

    def broker(self, up: bool, now: float) -> CentralStatus | None:
        if up and not self._broker_up:
            self._waiting_since = now
        self._broker_up = up
        return self._update(now)

    def tick(self, now: float) -> CentralStatus | None:
        """Returns the new status when it changed, else None."""
        return self._update(now)

    def _update(self, now: float) -> CentralStatus | None:
        status = self._compute(now)
        if status == self._status:
            return None
        self._status = status
        return status

    def _compute(self, now: float) -> CentralStatus:
        if self._last_alive is not None and now - self._last_alive < self._silence_s:
            link: CentralLink | None = CentralLink.UP
        elif (
            self._broker_up
            and (self._last_alive is None or self._last_alive < self._waiting_since)
            and now - self._waiting_since < self._silence_s
        ):
            link = None
        else:
            link = CentralLink.DOWN
        return CentralStatus(link, self._central_id, self._central_started, self._broker_up)
