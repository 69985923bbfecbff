"""Is a meter reading physically possible? (docs/security.md, "Plausible energy")

The seal proves which CP sent a reading, not that the reading is true: a broken meter or
an insider's engine can report 9999 kWh three seconds into a supply. Central bills only
energy a charger could have delivered: a session's energy never goes down, is never
negative, and never exceeds the CP's rated power over the time since Central authorized
the session (both ends on Central's own clock, so an engine's clock cannot stretch it),
plus a margin for clock skew between a pair's hosts and for rounding. A reading that
breaks the rule is not billed; the session keeps its last plausible reading, is ticketed
with it and flagged for the operator.

Plain functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wire.timefmt import parse_ts

#: kW of a CP whose record has no rated power (the most powerful public DC chargers)
DEFAULT_RATED_KW = 350.0
#: s added to the elapsed time: clock skew between the hosts of a pair, delivery latency
SLACK_S = 5.0
#: relative margin on the rated power (a charger may exceed its plate briefly)
MARGIN = 0.05
#: kWh a reading may go back by (the engines round to 3 decimals)
ROUNDING_KWH = 0.0015


@dataclass(frozen=True, slots=True)
class EnergyCheck:
    """The rule above; ``default_rated_kw`` None checks only sign and monotony for CPs
    without a rating (unit worlds whose events carry made-up energies)."""

    default_rated_kw: float | None = DEFAULT_RATED_KW

    def rated_kw(self, cp_rated_kw: float | None) -> float | None:
        return cp_rated_kw if cp_rated_kw else self.default_rated_kw

    def problem(
        self,
        kwh: float,
        *,
        last_kwh: float,
        authorized_at: str | None,
        now: datetime,
        rated_kw: float | None,
    ) -> str | None:
        """Why ``kwh`` cannot be true (None: it can)."""
        if kwh < 0:
            return f"negative energy {kwh:.3f} kWh"
        if kwh + ROUNDING_KWH < last_kwh:
            return f"energy went down from {last_kwh:.3f} to {kwh:.3f} kWh"
        limit = self.rated_kw(rated_kw)
        if limit is None or not authorized_at:
            return None
        try:
            since = parse_ts(authorized_at)
        except ValueError:
            return None
        elapsed = max((now - since).total_seconds(), 0.0)
        bound = limit * (1 + MARGIN) * (elapsed + SLACK_S) / 3600.0
        if kwh > bound:
            return (
                f"{kwh:.3f} kWh {elapsed:.0f} s after authorization is more than a "
                f"{limit:g} kW charger can deliver ({bound:.3f} kWh)"
            )
        return None
