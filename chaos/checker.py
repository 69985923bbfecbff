"""The campaign's verdict: the invariants of SPEC.md checked over the evidence, as pure rules.

Each rule takes an :class:`~chaos.evidence.Evidence` and returns the violations it finds,
each with its evidence (session id, the values, topic offsets) and a time, so the report can
show the faults around it. The rules (docs/reliability.md, "The invariants"):

- ``session``: every session Central authorized ends — a supply in exactly one ticket (one
  to the driver, amended at most once, equal to the database's), an unused authorization as
  expired, rejected or cancelled; nothing left open; no ticket without a session;
- ``meter``: a ticket's kWh is the engine's (or the OCPP meter's) final reading for the
  session on ``evc.cp.events`` within one reading, and its € is kWh × the price Central
  authorized the session at (the ``authorize`` command's);
- ``books:<kind>``: :func:`wire.books.check` over every row of the database (the
  same money checks Central runs itself: amount, kWh vs the recorded meter reading, reading
  without ticket, authorization never closed, ticket without authorization);
- ``unauthorized_supply``: no supply started that Central did not authorize (a manual one,
  requested at the CP, is authorized like any other and must be billed too);
- ``request``: every driver's ``charge_request`` got an answer (authorized or denied, which
  includes ``expired``);
- ``state``: after a fault is healed, every CP it touched shows its true state on
  ``evc.network.state`` within 10 s (ACTIVE or SUPPLYING: nothing is broken or disconnected
  any more), unless another fault touching it is still acting; at the end, every CP ACTIVE;
- ``traceback``, ``process``, ``central_resources``, ``journal``, ``unverifiable``: no
  traceback in any log; every process alive at the end (a driver told to stop after its
  current request excepted) and none died during the run without a fault on it; Central's
  RSS and open files under their ceilings and not growing; no engine still journals a supply
  or an unreported end; every sealed value opened with its owner's key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from chaos.books import books, requests, sessions
from chaos.evidence import Evidence, Happened, Rec
from chaos.resources import central_resources
from chaos.schedule import Fault, FaultKind
from chaos.verdict import Violation, show
from wire.kafka.messages import AuthorizationRejected, CpState

__all__ = ["RULES", "Violation", "check"]

TRUE_STATES = ("ACTIVE", "SUPPLYING")


def check(ev: Evidence) -> list[Violation]:
    """Every violation the evidence shows, oldest first."""
    found: list[Violation] = []
    for rule in RULES:
        found.extend(rule(ev))
    return sorted(found, key=lambda v: (v.at if v.at is not None else float("inf"), v.rule))


# ----------------------------------------------------------------------------- states


def touched_cps(fault: Fault, cps: Iterable[str], gateway_cps: Iterable[str]) -> set[str]:
    """The CPs whose state a fault may legitimately change while it acts."""
    cps = set(cps)
    out: set[str] = set()
    names = fault.components
    everything = any(n.startswith("central-") or n == "postgres" for n in names) or (
        fault.kind is not FaultKind.PARTITION and any(n.startswith("broker-") for n in names)
    )
    if fault.kind is FaultKind.PARTITION and all(
        n.startswith("broker-") for side in fault.sides for n in side
    ):
        everything = True
    if everything:
        return cps
    for name in names:
        if name.startswith(("monitor-", "engine-")):
            out.add(name.split("-", 1)[1])
        elif name == "ocpp-gateway":
            out |= set(gateway_cps)
        elif name.startswith("ocpp-"):
            out.add(name.removeprefix("ocpp-"))
    return out & cps


def states(ev: Evidence) -> list[Violation]:
    by_cp: dict[str, list[Rec]] = defaultdict(list)
    for rec in sorted(ev.on("evc.network.state"), key=lambda r: (r.ts, r.offset)):
        if isinstance(rec.event, CpState):
            by_cp[rec.event.cp_id].append(rec)
    gateway_cps = [cp for cp in ev.cps if cp.startswith("OCPP-")]
    done = [h for h in ev.timeline if h.injected_at is not None and not h.skipped]
    limit = ev.limits.state_recovery_s
    out = []
    for h in done:
        if h.healed_at is None:
            continue
        deadline = h.healed_at + limit
        for cp in sorted(touched_cps(h.fault, ev.cps, gateway_cps)):
            if _disturbed(cp, h, done, deadline, ev.cps, gateway_cps):
                continue
            shown = [r for r in by_cp.get(cp, []) if r.ts <= deadline]
            status = shown[-1].event.status if shown else None  # type: ignore[attr-defined]
            if status not in TRUE_STATES:
                around = [r for r in by_cp.get(cp, []) if h.healed_at - 20 <= r.ts <= deadline + 20]
                out.append(
                    Violation(
                        "state",
                        cp,
                        f"{cp} still {status} on evc.network.state {limit:.0f} s after fault "
                        f"#{h.fault.index} ({h.fault.label}) was healed",
                        tuple(f"t={r.ts - ev.started_at:.1f}s {show(r)}" for r in around[-8:]),
                        deadline,
                    )
                )
    for cp in ev.cps:
        last = by_cp.get(cp, [])
        status = last[-1].event.status if last else None  # type: ignore[attr-defined]
        if status != "ACTIVE":
            out.append(
                Violation(
                    "state",
                    cp,
                    f"{cp} ends the campaign {status} on evc.network.state, not ACTIVE "
                    "(every fault healed, no supply running)",
                    tuple(f"t={r.ts - ev.started_at:.1f}s {show(r)}" for r in last[-5:]),
                    ev.checked_at,
                )
            )
    return out


def _disturbed(
    cp: str, h: Happened, done: list[Happened], deadline: float, cps: list[str], gw: list[str]
) -> bool:
    """Another fault touching ``cp`` acts between ``h``'s heal and the deadline."""
    assert h.healed_at is not None
    return any(
        o is not h
        and o.injected_at is not None
        and o.injected_at < deadline
        and o.active_until > h.healed_at
        and cp in touched_cps(o.fault, cps, gw)
        for o in done
    )


def busy_refusals(ev: Evidence) -> list[Violation]:
    """A CP refused an authorization as busy (``authorization_rejected``) although Central,
    which authorizes only an ACTIVE CP with no session, saw it free, and no fault touched it
    in the 10 s before: the CP's own view and Central's disagree, and it turns every driver
    away while shown available."""
    gateway_cps = [cp for cp in ev.cps if cp.startswith("OCPP-")]
    done = [h for h in ev.timeline if h.injected_at is not None and not h.skipped]
    window = ev.limits.state_recovery_s
    out = []
    for rec in ev.on("evc.cp.events"):
        e = rec.event
        if not isinstance(e, AuthorizationRejected) or "busy" not in e.reason:
            continue
        recent = [
            h
            for h in done
            if h.injected_at is not None  # for the type checker
            and h.injected_at <= rec.ts
            and h.active_until >= rec.ts - window
            and e.cp_id in touched_cps(h.fault, ev.cps, gateway_cps)
        ]
        if recent:
            continue
        states = [
            r
            for r in ev.on("evc.network.state")
            if isinstance(r.event, CpState) and r.event.cp_id == e.cp_id and r.ts <= rec.ts
        ]
        shown = [f"t={r.ts - ev.started_at:.1f}s {show(r)}" for r in states[-3:]]
        out.append(
            Violation(
                "state",
                e.cp_id,
                f"{e.cp_id} refused session {e.session_id} as busy ({e.reason}) while Central "
                f"showed it free, with no fault on it in the {window:.0f} s before",
                (f"t={rec.ts - ev.started_at:.1f}s {show(rec)}", *shown),
                rec.ts,
            )
        )
    return out


# ----------------------------------------------------------------------------- processes


def processes(ev: Evidence) -> list[Violation]:
    out = []
    for p in ev.processes:
        finished = p.kind == "driver" and p.exit_code == 0  # its services file ran to its end
        if not p.alive and not p.stopped_by_campaign and not finished:
            out.append(
                Violation(
                    "process",
                    p.name,
                    f"not running at the end (exit {p.exit_code})",
                    (f"log: {p.log}",),
                    ev.checked_at,
                )
            )
    for e in ev.exits:
        out.append(
            Violation(
                "process",
                e.name,
                f"died during the run with no fault acting on it (exit {e.exit_code}); {e.note}",
                tuple(e.tail.splitlines()[-8:]),
                e.at,
            )
        )
    return out


def tracebacks(ev: Evidence) -> list[Violation]:
    return [
        Violation(
            "traceback",
            x.log,
            f"a traceback in {x.log} (line {x.line})",
            tuple(x.text.splitlines()[:14]),
        )
        for x in ev.tracebacks
    ]


def journals(ev: Evidence) -> list[Violation]:
    out = []
    for cp, record in sorted(ev.journals.items()):
        status = record.get("status")
        session = record.get("session_id") or (record.get("event") or {}).get("session_id", "?")
        what = "a running supply" if status == "running" else "an end it never got to Kafka"
        out.append(
            Violation(
                "journal",
                cp,
                f"the engine of {cp} still journals {what} (session {session})",
                (str(record)[:300],),
                ev.checked_at,
            )
        )
    return out


def unverifiable(ev: Evidence) -> list[Violation]:
    by_topic: dict[str, list] = defaultdict(list)
    for u in ev.unopened:
        by_topic[u.topic].append(u)
    return [
        Violation(
            "unverifiable",
            topic,
            f"{len(items)} value(s) could not be opened or read",
            tuple(f"{u.where}: {u.reason}" for u in items[:5]),
        )
        for topic, items in sorted(by_topic.items())
    ]


RULES: tuple[Callable[[Evidence], list[Violation]], ...] = (
    sessions,
    books,
    requests,
    states,
    busy_refusals,
    processes,
    tracebacks,
    central_resources,
    journals,
    unverifiable,
)
