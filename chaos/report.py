"""The campaign's printed report: the fault timeline, each violation with its evidence and the
faults around it, and the verdict line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from chaos.checker import Violation
from chaos.evidence import Evidence, Happened
from wire.kafka.messages import ChargeRequest, Ticket

AROUND_S = 30.0


def around(ev: Evidence, at: float | None, margin: float = AROUND_S) -> list[Happened]:
    """The faults acting within ``margin`` s of ``at``."""
    if at is None:
        return []
    return [
        h
        for h in ev.timeline
        if h.injected_at is not None
        and h.injected_at <= at + margin
        and h.active_until >= at - margin
    ]


def timeline(ev: Evidence) -> list[str]:
    return [h.line(ev.started_at) for h in sorted(ev.timeline, key=lambda h: h.fault.index)]


def figures(ev: Evidence) -> dict[str, int]:
    injected = sum(1 for h in ev.timeline if h.injected_at is not None and not h.skipped)
    return {
        "faults injected": injected,
        "faults skipped": sum(1 for h in ev.timeline if h.skipped),
        "sessions": len(ev.sessions),
        "tickets": sum(1 for s in ev.sessions if s.row.status == "ticketed"),
        "driver requests": sum(
            1 for r in ev.on("evc.requests") if isinstance(r.event, ChargeRequest)
        ),
        "ticket notices": sum(
            1 for r in ev.on("evc.driver.notices") if isinstance(r.event, Ticket)
        ),
        "Kafka values read": len(ev.records),
    }


def render(violations: list[Violation], ev: Evidence, say: Callable[[str], None] = print) -> None:
    say("chaos: fault timeline (t from the campaign's start):")
    for line in timeline(ev) or ["(no faults)"]:
        say(f"  {line}")
    for d in ev.drivers:
        say(
            f"chaos: driver {d.driver_id}: {d.requests} requests in its output, "
            f"{d.no_answer} said 'no answer' (Central unreachable for it at the time)"
        )
    for i, v in enumerate(violations, 1):
        when = f" at t={v.at - ev.started_at:.1f}s" if v.at is not None and ev.started_at else ""
        say(f"chaos: VIOLATION {i}/{len(violations)} [{v.rule}] {v.subject}{when}: {v.detail}")
        for line in v.evidence:
            say(f"    {line}")
        near = around(ev, v.at)
        if near:
            say("    faults around it:")
            for h in near:
                say(f"      {h.line(ev.started_at)}")
    shown = ", ".join(f"{k} {n}" for k, n in figures(ev).items())
    if violations:
        kinds = Counter(v.rule for v in violations)
        listed = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        say(f"chaos: verdict: {len(violations)} VIOLATION(S) ({listed}) — {shown}")
    else:
        say(f"chaos: verdict: CLEAN — {shown}")
