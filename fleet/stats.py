"""Mergeable latency histograms and the small statistics helpers the fleet reports use.

Worker processes cannot ship every sample to the coordinator (10,000 heartbeats a second),
so each keeps a log-bucketed histogram (3 % resolution from 1 µs up) that is merged by adding
counts. Percentiles come back as the bucket's geometric middle, so p50/p99 are within ±1.5 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

_BASE = 1.03
_INV_LOG = 1.0 / math.log(_BASE)


@dataclass
class Histogram:
    """Counts of latencies (seconds) in logarithmic buckets; ``merge`` adds another one."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = 0.0

    def add(self, seconds: float) -> None:
        micros = max(seconds * 1e6, 1.0)
        index = int(math.log(micros) * _INV_LOG)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        self.low = min(self.low, seconds)
        self.high = max(self.high, seconds)

    def merge(self, other: Histogram) -> None:
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100) in seconds, or None without samples."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                middle = _BASE ** (index + 0.5) / 1e6
                return min(max(middle, self.low), self.high)
        return self.high

    def to_dict(self) -> dict[str, object]:
        return {
            "count": self.count,
            "mean_ms": ms(self.total / self.count) if self.count else None,
            "p50_ms": ms(self.percentile(50)),
            "p95_ms": ms(self.percentile(95)),
            "p99_ms": ms(self.percentile(99)),
            "max_ms": ms(self.high) if self.count else None,
        }


def merged(histograms: Iterable[Histogram]) -> Histogram:
    result = Histogram()
    for h in histograms:
        result.merge(h)
    return result


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 2)


def mean_max(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return sum(values) / len(values), max(values)
