"""``evc-fleet soak``: what a soak measures and how it is judged (issue 21, Build item 4).

A soak is the steady phase run for a long time (2 hours at 1,000 CPs); every ``--sample-every``
seconds it takes one sample: Central's RSS and open files (``/proc/<pid>/fd`` of Central and
its children, by kind), and, for the window since the previous sample only, the heartbeat
p99, the request → authorized p50/p99 and the sessions ticketed.

The verdict: after the warm-up (``--warmup``, 10 minutes; never more than a third of the run,
so a short run keeps two thirds to judge), the *median of the first few samples* is compared
with the *median of the last few* (``EDGE`` each, fewer when there are fewer samples), so one
spike decides nothing. Central's resources (RSS, open files) must grow less than
``BOUND_PCT``; the latencies' growth is reported beside them, not judged (on a shared machine
their p99 moves by more than 5 % from minute to minute with no leak behind it).

Everything here is plain computation; the process that takes the samples is
``fleet/soak_scenario.py``, the chart ``fleet/soak_chart.py``.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import Any

from fleet.central import _rss_mb, _tree
from fleet.stats import Histogram, ms

BOUND_PCT = 5.0
EDGE = 3  # samples in each median: the first EDGE after the warm-up, the last EDGE
RESOURCES = ("rss_mb", "open_files")  # judged
LATENCIES = ("hb_p99_ms", "req_p50_ms", "req_p99_ms")  # reported


def warmup_used(warmup: float, duration: float) -> float:
    """The warm-up a run of ``duration`` seconds gets: at most a third of it."""
    return min(warmup, duration / 3.0)


def window(now: Histogram, before: Histogram) -> Histogram:
    """The samples ``now`` has that ``before`` (an earlier state of the same cumulative
    histogram) had not: one sample window's latencies. Its low/high are the cumulative
    ones, so a percentile is clamped no tighter than the histogram's range."""
    result = Histogram(low=0.0, high=now.high)
    for index, n in now.buckets.items():
        fresh = n - before.buckets.get(index, 0)
        if fresh > 0:
            result.buckets[index] = fresh
            result.count += fresh
    result.total = max(now.total - before.total, 0.0)
    return result


def open_files(pids: list[int]) -> dict[str, int]:
    """Open file descriptors of ``pids``, by kind: sockets, pipes, files (regular files and
    devices), other (anon inodes: eventfd, epoll, timerfd)."""
    kinds = {"sockets": 0, "pipes": 0, "files": 0, "other": 0}
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone
        for name in names:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:"):
                kinds["sockets"] += 1
            elif target.startswith("pipe:"):
                kinds["pipes"] += 1
            elif target.startswith("/"):
                kinds["files"] += 1
            else:
                kinds["other"] += 1
    return {"open_files": sum(kinds.values()), **kinds}


def resources(pid: int) -> dict[str, float]:
    """Central's RSS (MB) and open files, over it and its child processes."""
    pids = _tree([pid])
    return {"rss_mb": round(sum(_rss_mb(p) for p in pids), 1), **open_files(pids)}


@dataclass
class Growth:
    first: float  # median of the first EDGE samples after the warm-up
    last: float  # median of the last EDGE
    pct: float | None  # (last - first) / first, in %; None when first is 0

    def to_dict(self) -> dict[str, Any]:
        pct = None if self.pct is None else round(self.pct, 2)
        return {"first": round(self.first, 2), "last": round(self.last, 2), "pct": pct}


def growth(samples: list[dict[str, Any]], key: str, warmup: float) -> Growth | None:
    """Growth of ``key`` from the end of the warm-up (samples at ``t >= warmup``) to the end;
    None with fewer than 2 samples after the warm-up."""
    values = [s[key] for s in samples if s["t"] >= warmup and s.get(key) is not None]
    if len(values) < 2:
        return None
    edge = max(1, min(EDGE, len(values) // 2))
    first = statistics.median(values[:edge])
    last = statistics.median(values[-edge:])
    if first > 0:
        pct: float | None = 100.0 * (last - first) / first
    else:
        pct = 0.0 if last <= 0 else None
    return Growth(first, last, pct)


def verdict(
    samples: list[dict[str, Any]], warmup: float, bound: float = BOUND_PCT
) -> dict[str, Any]:
    """Each metric's growth after ``warmup`` and whether the resources stayed under
    ``bound`` %: ``passed`` is False when one grew by ``bound`` or more, or could not be told
    (too few samples after the warm-up, or growth from 0)."""
    grown = {key: growth(samples, key, warmup) for key in (*RESOURCES, *LATENCIES)}
    failed = [
        key for key in RESOURCES if (g := grown[key]) is None or g.pct is None or g.pct >= bound
    ]
    return {
        "bound_pct": bound,
        "warmup_s": warmup,
        "growth": {key: None if g is None else g.to_dict() for key, g in grown.items()},
        "judged": list(RESOURCES),
        "failed": failed,
        "passed": not failed,
    }


def sample(
    t: float,
    central: dict[str, float],
    heartbeats: Histogram,
    requests: Histogram,
    tickets: int,
    tickets_total: int,
    authenticated: int,
) -> dict[str, Any]:
    """One sample: ``t`` seconds into the soak, Central's ``resources``, the window's
    heartbeat and request histograms and tickets."""
    return {
        "t": round(t, 1),
        **central,
        "hb_count": heartbeats.count,
        "hb_p99_ms": ms(heartbeats.percentile(99)),
        "requests": requests.count,
        "req_p50_ms": ms(requests.percentile(50)),
        "req_p99_ms": ms(requests.percentile(99)),
        "tickets": tickets,
        "tickets_total": tickets_total,
        "authenticated": authenticated,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def progress_line(cps: int, s: dict[str, Any]) -> str:
    return (
        f"[soak {cps} {s['t']:6.0f}s] rss {s['rss_mb']:.1f} MB  files {s['open_files']}"
        f" (sockets {s['sockets']}, pipes {s['pipes']}, files {s['files']},"
        f" other {s['other']})  hb p99 {_ms(s['hb_p99_ms'])} ms"
        f"  request p50/p99 {_ms(s['req_p50_ms'])}/{_ms(s['req_p99_ms'])} ms"
        f"  tickets +{s['tickets']} ({s['tickets_total']})"
        f"  auth {s['authenticated']}/{cps}"
    )


def verdict_lines(v: dict[str, Any]) -> list[str]:
    lines = [f"soak growth after the first {v['warmup_s']:.0f}s (median of first/last samples):"]
    for key, g in v["growth"].items():
        judged = "judged" if key in v["judged"] else "reported"
        if g is None:
            lines.append(f"  {key:<11} -  (too few samples after the warm-up; {judged})")
            continue
        pct = "n/a" if g["pct"] is None else f"{g['pct']:+.1f} %"
        lines.append(f"  {key:<11} {g['first']:>10} → {g['last']:<10} {pct:>9}  ({judged})")
    bound = v["bound_pct"]
    if v["passed"]:
        lines.append(f"soak: PASS (resources grew < {bound:g} %)")
    else:
        lines.append(f"soak: FAIL ({', '.join(v['failed'])} grew ≥ {bound:g} % or untold)")
    return lines
