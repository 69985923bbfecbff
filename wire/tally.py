"""Counting on hot paths without locks: what the metrics (``wire.metrics``) read at scrape time.

A ``prometheus_client`` metric takes a lock on every ``inc`` or ``observe``; Central answers
10,000 heartbeats a second on one thread. So each program counts in plain ints and floats,
every one written by a single thread (the one that does the work), and a collector copies
them when Prometheus scrapes. Reading what another thread writes is safe in CPython (a
scrape may be one event behind, never torn); nothing here does I/O or imports a client.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

INF = float("inf")


class FastHistogram:
    """A histogram written by one thread: ``observe`` is a bisect and two additions.

    ``buckets`` takes one snapshot: cumulative ``le`` buckets ending with ``+Inf``, whose
    count is that of the same snapshot, so an exported histogram is always valid."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def buckets(self) -> tuple[list[tuple[float, int]], float]:
        """([(upper bound, observations <= it), …, (inf, count)], sum) of one snapshot."""
        counts, total = list(self.counts), self.sum
        cumulative, running = [], 0
        for bound, n in zip((*self.bounds, INF), counts, strict=True):
            running += n
            cumulative.append((bound, running))
        return cumulative, total


class Tally:
    """Counts per label value, written by one thread (``add``), copied at scrape time."""

    __slots__ = ("counts",)

    def __init__(self, *known: str) -> None:
        # the known values are exported from the start, at 0 (a rate() needs the series)
        self.counts: dict[str, float] = dict.fromkeys(known, 0)

    def add(self, key: str, amount: float = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    def snapshot(self) -> dict[str, float]:
        return dict(self.counts)  # one C-level copy: never "changed size during iteration"

    def __getitem__(self, key: str) -> float:
        return self.counts.get(key, 0)
