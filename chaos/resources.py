"""``central_resources``: each Central's memory and open files stay bounded.

The campaign samples both Centrals every 2 s (RSS, open files by kind, and the role the
Central announced last on ``evc.central.status``). A Central's role changes its needs (the
active holds the monitors, more Kafka clients, the database writer), so open files are
compared within a role: the first time a process served as active (or standby) against the
last time it did, after the role changes between. What a role change leaves behind shows up
there; the kinds (pipes, event loops, Kafka, PostgreSQL, monitors) say what it is. Within
one stretch of a minute or more, open files and RSS must not climb either, and neither may
pass its ceiling at any time.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from itertools import groupby

from chaos.evidence import Evidence, Sample
from chaos.verdict import Violation

RULE = "central_resources"


def _stints(samples: list[Sample]) -> list[list[Sample]]:
    """Consecutive samples in the same role."""
    return [list(group) for _, group in groupby(samples, key=lambda s: s.role)]


def _line(ev: Evidence, s: Sample) -> str:
    return f"t={s.at - ev.started_at:.0f}s {s.role or '?'} {s.fds} open files: {s.kinds}"


def _series(ev: Evidence, samples: list[Sample]) -> str:
    step = max(1, len(samples) // 30)
    return "open files over the run: " + " ".join(f"{s.fds}{s.role[:1]}" for s in samples[::step])


def central_resources(ev: Evidence) -> list[Violation]:
    lim = ev.limits
    series: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for s in sorted(ev.samples, key=lambda s: s.at):
        series[(s.name, s.pid)].append(s)
    out = []
    for (name, pid), samples in sorted(series.items()):
        what = f"{name} (pid {pid})"
        worst = max(samples, key=lambda s: s.rss_kib)
        if worst.rss_kib / 1024 > lim.central_rss_mib:
            detail = f"RSS {worst.rss_kib / 1024:.0f} MiB, above {lim.central_rss_mib:.0f} MiB"
            out.append(Violation(RULE, what, detail, (), worst.at))
        worst = max(samples, key=lambda s: s.fds)
        if worst.fds > lim.central_fds:
            detail = f"{worst.fds} open files, above {lim.central_fds}"
            out.append(Violation(RULE, what, detail, (_line(ev, worst),), worst.at))
        stints = _stints(samples)
        by_role: dict[str, list[list[Sample]]] = defaultdict(list)
        for stint in stints:
            by_role[stint[0].role].append(stint)
        for role, runs in sorted(by_role.items()):
            if not role or len(runs) < 2:
                continue  # a stretch of no known role (starting) is no baseline
            first = statistics.median_low([s.fds for s in runs[0]])
            last = statistics.median_low([s.fds for s in runs[-1]])
            if last - first > lim.fd_growth:
                a = next(s for s in runs[0] if s.fds == first)
                b = next(s for s in runs[-1] if s.fds == last)
                changes = len(stints) - 1
                out.append(
                    Violation(
                        RULE,
                        what,
                        f"as the {role or 'unknown-role'} Central it held {first} open files the "
                        f"first time and {last} the last, {changes} role changes later "
                        f"(more than {lim.fd_growth} more): something is left open at each change",
                        (_line(ev, a), _line(ev, b), _series(ev, samples)),
                        b.at,
                    )
                )
        for stint in stints:
            if stint[-1].at - stint[0].at < 60:
                continue
            head = stint[: max(1, len(stint) // 10)]
            base, end = min(head, key=lambda s: s.fds), stint[-1]
            trail = (_line(ev, base), _line(ev, end), _series(ev, samples))
            if end.fds - base.fds > lim.fd_growth:
                detail = f"open files grew from {base.fds} to {end.fds} in one stretch as {end.role or '?'}"
                out.append(Violation(RULE, what, detail, trail, end.at))
            base_rss = min(s.rss_kib for s in head) / 1024
            if end.rss_kib / 1024 - base_rss > lim.rss_growth_mib:
                detail = (
                    f"RSS grew from {base_rss:.0f} to {end.rss_kib / 1024:.0f} MiB in one "
                    f"stretch (more than {lim.rss_growth_mib:.0f} MiB)"
                )
                out.append(Violation(RULE, what, detail, trail, end.at))
    return out
