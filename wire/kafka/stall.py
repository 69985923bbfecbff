"""``WriteStall``: says when a producer's writes stop being acknowledged, and when they resume.

A broker that answers is not enough for a write: with ``acks=all`` a partition acknowledges
only while ``min.insync.replicas`` (2 of a three-broker cluster) have it. With two brokers of
three down, the producer still sees a broker UP, so "Kafka down" never shows; yet nothing is
delivered and the events wait in the local queue (kept, in order, see ``producer``). This
watches progress instead: events waiting and no delivery for ``after_s`` *while a broker
answers and this process runs* is a stall, said once; the next delivery ends it.

Only what is known is said. The time no broker answered is the outage ("Kafka down", said by
the producer), not a stall: the clock starts again when a broker is back. The time this
process itself stood still (SIGSTOP, a long pause: ``wire.pauses.PauseWatch`` on the checks'
own rhythm) is nobody's stall either. The line says how many brokers answer; too few
in-sync replicas is named as the likely cause only when the statistics show brokers of the
cluster unreachable. No I/O: the producer feeds it the clock, its queue and the brokers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.pauses import PauseWatch

__all__ = ["STALL_S", "WriteStall"]

STALL_S = 5.0  # longer than a leader's move after one broker's crash (fenced within 4 s)
CHECK_S = 1.0  # how often the producer checks (its statistics interval)


@dataclass
class WriteStall:
    after_s: float = STALL_S
    waiting_since: float | None = None  # the last progress while events wait
    stalled_since: float | None = None
    pauses: PauseWatch = field(default_factory=lambda: PauseWatch(CHECK_S))

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

    def unreachable(self, now: float) -> None:
        """No broker answers (an outage, said as such): not a stall; the wait for an
        acknowledgement starts again when one is back."""
        self.pauses.check(now)
        if self.waiting_since is not None:
            self.waiting_since = now

    def check(self, now: float, pending: int, up: int = 1, brokers: int = 1) -> str | None:
        """Called every ``CHECK_S`` or so while ``up`` of the cluster's ``brokers`` answer;
        the message starting a stall, once."""
        paused = self.pauses.check(now)
        if not pending:
            self.waiting_since = None
            return None
        if paused and self.waiting_since is not None:
            # this process stood still: the cluster had no chance to be heard meanwhile
            self.waiting_since = max(self.waiting_since, now - CHECK_S)
        if self.stalled or self.waiting_since is None or now - self.waiting_since < self.after_s:
            return None
        self.stalled_since = self.waiting_since
        if brokers > 1 and up < brokers:
            answer = (
                f"only {up} of the cluster's {brokers} brokers answer "
                "(too few in-sync replicas to acknowledge?)"
            )
        elif brokers > 1:
            answer = f"all {brokers} brokers answer"
        else:
            answer = "the broker answers"
        return (
            f"Kafka writes stalled: {pending} events unacknowledged for "
            f"{now - self.waiting_since:.0f} s although {answer}; they are kept and "
            "delivered in order when the cluster acknowledges them"
        )
