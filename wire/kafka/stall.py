"""``WriteStall``: says when a producer's writes stop being acknowledged, and when they resume.

A broker that answers is not enough for a write: with ``acks=all`` a partition acknowledges
only while ``min.insync.replicas`` (2 of a three-broker cluster) have it. With two brokers of
three down, the producer still sees a broker UP, so "Kafka down" never shows; yet nothing is
delivered and the events wait in the local queue (kept, in order, see ``producer``). This
watches progress instead: events waiting and no delivery for ``after_s`` is a stall, said
once; the next delivery ends it. No I/O: the producer feeds it the clock and its queue.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STALL_S", "WriteStall"]

STALL_S = 5.0  # longer than a leader's move after one broker's crash (fenced within 4 s)


@dataclass
class WriteStall:
    after_s: float = STALL_S
    waiting_since: float | None = None  # the last progress while events wait
    stalled_since: float | None = None

    @property
    def stalled(self) -> bool:
        return self.stalled_since is not None

    def queued(self, now: float) -> None:
        if self.waiting_since is None:
            self.waiting_since = now

    def delivered(self, now: float, pending: int) -> str | None:
        """A delivery succeeded; the message ending a stall, if there was one."""
        self.waiting_since = now if pending else None
        if self.stalled_since is None:
            return None
        lasted, self.stalled_since = now - self.stalled_since, None
        return f"Kafka writes resumed after {lasted:.0f} s; {pending} queued events follow"

    def check(self, now: float, pending: int) -> str | None:
        """Called every second or so; the message starting a stall, once."""
        if not pending:
            self.waiting_since = None
            return None
        if self.stalled or self.waiting_since is None or now - self.waiting_since < self.after_s:
            return None
        self.stalled_since = self.waiting_since
        return (
            f"Kafka writes stalled: {pending} events unacknowledged for "
            f"{now - self.waiting_since:.0f} s although a broker answers (too few in-sync "
            "replicas: two brokers of three down?); they are kept and delivered in order "
            "when a broker comes back"
        )
