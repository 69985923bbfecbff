"""What Central counts for its metrics, in plain numbers on the owner thread (no I/O, no lock).

The hub holds one :class:`CentralCounts`; the desks add to it where the work happens
(heartbeats in ``monitor_handler``, requests in ``supplies``, tickets in ``session_ends``,
refused values in ``runtime``), always on the owner, and ``central_app.metrics`` reads it
when Prometheus scrapes. A heartbeat costs a bisect and three additions here, never a lock.
"""

from __future__ import annotations

from wire.reasons import DenyReason, EndReason, reason_code
from wire.tally import FastHistogram, Tally

# s: Central's own work on one heartbeat is a few µs; a GC pause or a busy core shows above
HEARTBEAT_BOUNDS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1)
# s from a charge_request on the owner to its authorize: the session row's write, mostly
AUTHORIZE_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# s of one database job (a transaction, commit included) on the writer thread
DB_JOB_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

AUTHORIZED = "authorized"
REQUEST_RESULTS = (AUTHORIZED, *(r.value for r in DenyReason))
END_REASONS = tuple(r.value for r in EndReason)
REFUSALS = ("forged_event", "unsealed_event", "invalid_event", "handler_failed")


class CentralCounts:
    """Counters of the owner thread (read, never written, by the scrape)."""

    def __init__(self) -> None:
        self.heartbeats = FastHistogram(HEARTBEAT_BOUNDS)  # handling time; count = heartbeats
        self.authorize = FastHistogram(AUTHORIZE_BOUNDS)
        self.requests = Tally(*REQUEST_RESULTS)  # by result: authorized or the denial's code
        self.tickets = Tally(*END_REASONS)  # by end reason
        self.billed_kwh = 0.0
        self.billed_eur = 0.0
        # an amended ticket (the engine's late reading) that lowered the bill: the counters
        # above only grow, so what was taken back is counted here
        self.credited_kwh = 0.0
        self.credited_eur = 0.0
        self.amended = 0
        self.refused = Tally(*REFUSALS)  # values refused on Kafka, by the audit's action

    def request(self, result: str, seconds: float | None = None) -> None:
        """A charge_request answered: ``authorized`` (after ``seconds``) or the wire reason."""
        code = reason_code(result)
        self.requests.add(code if code in REQUEST_RESULTS else "other")
        if seconds is not None:
            self.authorize.observe(seconds)

    def ticketed(self, reason: str, kwh: float, eur: float) -> None:
        code = reason_code(reason)
        self.tickets.add(code if code in END_REASONS else "other")
        self.billed_kwh += kwh
        self.billed_eur += eur

    def amended_ticket(self, was_kwh: float, was_eur: float, kwh: float, eur: float) -> None:
        self.amended += 1
        self.billed_kwh += max(0.0, kwh - was_kwh)
        self.billed_eur += max(0.0, eur - was_eur)
        self.credited_kwh += max(0.0, was_kwh - kwh)
        self.credited_eur += max(0.0, was_eur - eur)
