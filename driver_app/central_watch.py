"""Is Central reachable? Decided from ``central_alive`` (sent every second) and the clock.

Pure: the caller passes monotonic seconds. Central is *online* while an alive from a serving
Central (a lone one, or the active one of a pair; a standby's are ignored) arrived within
the last ``silence_s`` seconds; before the first one it is *unknown* for ``silence_s`` seconds
after start (the app just launched), then *unreachable*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wire.kafka.messages import CentralAlive


class CentralLink(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class CentralStatus:
    link: CentralLink
    central_id: str | None
    started_at: str | None  # when that Central instance started (changes after a restart)
    broker_up: bool = True

    @property
    def text(self) -> str:
        if self.link is CentralLink.ONLINE:
            # which Central serves (the active one of a pair changes on a failover)
            return f"Central online ({self.central_id})" if self.central_id else "Central online"
        if self.link is CentralLink.UNKNOWN:
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
        self._status = self._compute(started)

    @property
    def status(self) -> CentralStatus:
        return self._status

    @property
    def online(self) -> bool:
        return self._status.link is CentralLink.ONLINE

    def alive(self, event: CentralAlive, now: float) -> CentralStatus | None:
        if not event.serving:
            return None  # a standby Central is there, but serves nobody
        self._last_alive = now
        self._central_id = event.central_id
        self._central_started = event.started_at
        return self._update(now)

    def broker(self, up: bool, now: float) -> CentralStatus | None:
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
            link = CentralLink.ONLINE
        elif self._last_alive is None and now - self._started < self._silence_s:
            link = CentralLink.UNKNOWN
        else:
            link = CentralLink.UNREACHABLE
        return CentralStatus(link, self._central_id, self._central_started, self._broker_up)
