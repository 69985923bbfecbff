"""Timelines computed from history rows: pure functions over plain values, no I/O, no clock.

Everything works in seconds since the epoch (floats) internally; inputs and outputs are the
wire's UTC text or ``datetime`` for chart axes. Costs are linear in the rows given: the
network's states over a week at 10,000 CPs is one pass over its state changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from central_app.history.records import Fault, StateChange
from wire.timefmt import parse_ts

NO_RECORD = "NO RECORD"  # before the first recorded state (or before Central recorded any)
HOUR = 3600.0


def secs(ts: str) -> float:
    return parse_ts(ts).timestamp()


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _edges(since: float, until: float, buckets: int) -> list[float]:
    buckets = max(1, buckets)
    step = (until - since) / buckets
    return [since + i * step for i in range(buckets)] + [until]


def availability(
    changes: Sequence[StateChange], initial: str | None, since: str, until: str
) -> dict[str, float]:
    """Share of ``[since, until)`` spent in each status (fractions summing to 1).

    ``initial`` is the status in force at ``since`` (the newest change before it), None if
    nothing was recorded yet; ``changes`` are those inside the period, oldest first.
    """
    start, end = secs(since), secs(until)
    if end <= start:
        return {}
    spent: dict[str, float] = {}
    current, at = initial or NO_RECORD, start
    for change in changes:
        t = min(max(secs(change.ts), start), end)
        spent[current] = spent.get(current, 0.0) + (t - at)
        current, at = change.status, t
    spent[current] = spent.get(current, 0.0) + (end - at)
    total = end - start
    return {status: s / total for status, s in spent.items() if s > 0}


def faults(
    changes: Sequence[StateChange], initial: str | None, since: str, until: str
) -> list[Fault]:
    """The spells of BROKEN in the period (one that began before it starts at ``since``)."""
    out: list[Fault] = []
    open_at: str | None = since if initial == "BROKEN" else None
    open_reason = ""
    for change in changes:
        if change.status == "BROKEN" and open_at is None:
            open_at, open_reason = change.ts, change.reason
        elif change.status != "BROKEN" and open_at is not None:
            out.append(Fault(open_at, open_reason, secs(change.ts) - secs(open_at)))
            open_at = None
    if open_at is not None:
        out.append(Fault(open_at, open_reason, None))
    return out


def state_counts(
    initial: dict[str, str],
    changes: Iterable[StateChange],
    since: str,
    until: str,
    buckets: int = 96,
) -> tuple[list[datetime], dict[str, list[float]]]:
    """How many CPs were in each status, averaged over time within each of ``buckets``
    equal slices of the period (a fault shorter than a slice still shows, as a fraction).

    ``initial``: cp_id -> status in force at ``since``; ``changes``: oldest first.
    """
    start, end = secs(since), secs(until)
    edges = _edges(start, end, buckets)
    counts: dict[str, float] = {}
    for status in initial.values():
        counts[status] = counts.get(status, 0) + 1
    state = dict(initial)
    series: dict[str, list[float]] = {}
    width = [edges[i + 1] - edges[i] or 1.0 for i in range(len(edges) - 1)]

    def accrue(a: float, b: float) -> None:
        """Add the current counts over [a, b) to the buckets it covers."""
        i = max(0, bisect_right(edges, a) - 1)
        while a < b and i < len(width):
            upto = min(b, edges[i + 1])
            for status, n in counts.items():
                if n:
                    row = series.setdefault(status, [0.0] * len(width))
                    row[i] += n * (upto - a) / width[i]
            a = upto
            i += 1

    at = start
    for change in changes:
        t = min(max(secs(change.ts), start), end)
        if t > at:
            accrue(at, t)
            at = t
        old = state.get(change.cp_id)
        if old is not None:
            counts[old] -= 1
        counts[change.status] = counts.get(change.status, 0) + 1
        state[change.cp_id] = change.status
    accrue(at, end)
    return [moment(e) for e in edges[:-1]], series


def simultaneous(
    intervals: Iterable[tuple[str, str]], since: str, until: str, buckets: int = 96
) -> list[tuple[datetime, int]]:
    """The most supplies running at once within each slice of the period."""
    start, end = secs(since), secs(until)
    edges = _edges(start, end, buckets)
    events: list[tuple[float, int]] = []
    for began, ended in intervals:
        a, b = max(secs(began), start), min(secs(ended), end)
        if b > a:
            events += ((a, 1), (b, -1))
    events.sort()  # at a tie the end (-1) sorts first: back-to-back supplies are not overlapping
    peak = [0] * (len(edges) - 1)
    running, i = 0, 0
    for t, delta in events:
        while i < len(peak) - 1 and t >= edges[i + 1]:
            i += 1
            if t > edges[i]:  # what was running carries into the slice (unless it ends there)
                peak[i] = max(peak[i], running)
        running += delta
        peak[i] = max(peak[i], running)
    while i < len(peak) - 1:
        i += 1
        peak[i] = max(peak[i], running)
    return [(moment(edges[k]), peak[k]) for k in range(len(peak))]


def energy_per_hour(
    supplies: Iterable[tuple[str, str, float]], since: str, until: str
) -> list[tuple[datetime, float]]:
    """kWh delivered in each UTC hour of the period, each supply's energy spread evenly
    over its duration (a 2-hour supply counts in both hours)."""
    start = secs(since) // HOUR * HOUR
    end = secs(until)
    hours = max(1, int((end - start + HOUR - 1) // HOUR))
    kwh = [0.0] * hours
    for began, ended, energy in supplies:
        a, b = secs(began), secs(ended)
        if b <= a:
            slot = int((a - start) // HOUR)
            if 0 <= slot < hours:
                kwh[slot] += energy
            continue
        rate = energy / (b - a)
        a, b = max(a, start), min(b, end)
        while a < b:
            slot = int((a - start) // HOUR)
            upto = min(b, start + (slot + 1) * HOUR)
            if 0 <= slot < hours:
                kwh[slot] += rate * (upto - a)
            a = upto
    return [(moment(start + i * HOUR), kwh[i]) for i in range(hours)]
