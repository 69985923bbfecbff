"""The owner's judgments on every timer tick, with Central's own pauses left out.

Each tick the owner judges who went silent: monitors with no valid frame for the heartbeat
timeout (``MonitorDesk.watchdog``), sessions past a wait for their engine (``SupplyDesk.tick``:
authorization expiry, fallback tickets). A silence is the peer's only while Central was
running to hear it. When the process itself stood still (SIGSTOP, a long GC, swapping; see
``wire.pauses``) the heartbeats waited in the sockets and the engines' reports in Kafka, and
the first tick after it found every deadline passed (issue 21). So a pause is given back:
every last-heard and every wait moves forward by its length (never past now), and for a
heartbeat period nobody is judged while the loop reads what waited. A monitor that really
died meanwhile is still judged one heartbeat timeout after its last frame, the pause left
out: within about 3 s of the resume.
"""

from __future__ import annotations

from central_app.hub import Hub
from central_app.monitors import MonitorDesk
from central_app.supplies import SupplyDesk
from wire.pauses import PauseWatch


class Watchdog:
    def __init__(
        self,
        hub: Hub,
        monitors: MonitorDesk,
        supplies: SupplyDesk,
        *,
        period: float,
        started: float | None = None,
    ) -> None:
        """``period``: the timer's; ``started``: when it started (``time.monotonic()``)."""
        self.hub = hub
        self.monitors = monitors
        self.supplies = supplies
        self.pauses = PauseWatch(period, started=started)

    def tick(self, now: float) -> None:
        """Once per timer tick, ``now`` from ``time.monotonic()``."""
        paused = self.pauses.check(now)
        if paused:
            self.hub.say(
                f"Central was paused for {paused:.1f} s (the process did not run): "
                "giving monitors and engines time to be heard before judging their silence"
            )
            self.monitors.excuse(paused, now)
            self.supplies.excuse(paused, now)
        if self.pauses.holding(now):
            return
        self.monitors.watchdog(now)
        self.supplies.tick(now)
