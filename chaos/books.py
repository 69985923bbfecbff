"""The money rules: every authorized session ends in exactly one ticket, the meter's reading at
the authorized price, no supply without an authorization, every request answered.

Over the topics (``evc.cp.commands``, ``evc.cp.events``, ``evc.driver.notices``,
``evc.requests``) and Central's ``sessions`` rows, whose own books are checked by
:func:`wire.books.check` — the same function Central runs — rather than again
here. See ``chaos.checker`` for the list of rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from chaos.evidence import DbSession, Evidence, Rec
from chaos.verdict import Violation, epoch, show, show_row
from wire.books import KWH_TOLERANCE
from wire.books import check as reconcile_check
from wire.kafka.messages import (
    Authorize,
    AuthorizedNotice,
    ChargeRequest,
    Denied,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
    Ticket,
)
from wire.states import Origin

OPEN = ("authorized", "supplying")
EUR_TOLERANCE = 0.005


def _by_session(records: Iterable[Rec], *types: type) -> dict[str, list[Rec]]:
    out: dict[str, list[Rec]] = defaultdict(list)
    for rec in records:
        if isinstance(rec.event, types):
            out[rec.event.session_id].append(rec)  # type: ignore[attr-defined]
    return out


# ----------------------------------------------------------------------------- sessions


def sessions(ev: Evidence) -> list[Violation]:
    """``session``, ``meter`` and ``unauthorized_supply``."""
    out: list[Violation] = []
    authorize = _by_session(ev.on("evc.cp.commands"), Authorize)
    supply = _by_session(ev.on("evc.cp.events"), SupplyStarted, SupplyProgress, SupplyEnded)
    tickets = _by_session(ev.on("evc.driver.notices"), Ticket)
    db = {s.row.session_id: s for s in ev.sessions}
    authorized = set(authorize) | {sid for sid, s in db.items() if s.row.authorized_at}

    for sid in sorted(authorized):
        s = db.get(sid)
        evidence = [show(r) for r in authorize.get(sid, [])]
        at = epoch(s.row.authorized_at) if s else authorize[sid][0].ts
        if s is None:
            out.append(
                Violation(
                    "session",
                    sid,
                    "authorized on Kafka but not in Central's database",
                    tuple(evidence),
                    at,
                )
            )
            continue
        evidence.insert(0, show_row(s))
        evidence += [show(r) for r in supply.get(sid, [])][-6:]
        supplied = bool(supply.get(sid)) or bool(s.started_at)
        if s.row.status in OPEN:
            out.append(
                Violation(
                    "session", sid, f"never closed: still {s.row.status}", tuple(evidence), at
                )
            )
        elif supplied and s.row.status != "ticketed":
            out.append(
                Violation(
                    "session",
                    sid,
                    f"energy was supplied but it ended {s.row.status}, without a ticket",
                    tuple(evidence),
                    at,
                )
            )
        if s.row.status == "ticketed":
            out += _ticket(s, tickets.get(sid, []), evidence, at)
            out += _meter(s, supply.get(sid, []), authorize.get(sid, []), evidence, at)

    for sid, recs in sorted(supply.items()):
        if sid in authorized:
            continue
        s = db.get(sid)
        manual = s is not None and s.origin == Origin.CP
        if manual and s is not None and s.row.status == "ticketed":
            continue
        what = (
            "a manual supply (requested at the CP) that was never billed"
            if manual
            else "a supply Central never authorized"
        )
        out.append(
            Violation(
                "unauthorized_supply",
                sid,
                what,
                tuple([show_row(s)] if s else []) + tuple(show(r) for r in recs[:4]),
                recs[0].ts,
            )
        )
    for sid, recs in sorted(tickets.items()):
        if sid not in authorized and sid not in supply:
            out.append(
                Violation(
                    "session",
                    sid,
                    "a ticket for a session that was never authorized",
                    tuple(show(r) for r in recs),
                    recs[0].ts,
                )
            )
    return out


def _ticket(
    s: DbSession, recs: list[Rec], evidence: list[str], at: float | None
) -> list[Violation]:
    sid = s.row.session_id
    recs = sorted(recs, key=lambda r: (r.partition, r.offset))
    firsts = [r for r in recs if r.event.was_kwh is None]  # type: ignore[attr-defined]
    amends = [r for r in recs if r.event.was_kwh is not None]  # type: ignore[attr-defined]
    shown = tuple(evidence) + tuple(show(r) for r in recs)
    out = []
    if not recs:
        out.append(
            Violation("session", sid, "ticketed, but no ticket reached the driver", shown, at)
        )
    if len(firsts) > 1:
        out.append(
            Violation("session", sid, f"{len(firsts)} tickets sent for one session", shown, at)
        )
    if len(amends) > 1:
        out.append(Violation("session", sid, f"amended {len(amends)} times", shown, at))
    if recs:
        last = recs[-1].event
        kwh, eur = s.row.kwh or 0.0, s.row.eur or 0.0
        if abs(last.kwh - kwh) > KWH_TOLERANCE or abs(last.eur - eur) > EUR_TOLERANCE:  # type: ignore[attr-defined]
            out.append(
                Violation(
                    "session",
                    sid,
                    f"the driver's ticket says {last.kwh:.3f} kWh {last.eur:.2f} EUR, "  # type: ignore[attr-defined]
                    f"the database {kwh:.3f} kWh {eur:.2f} EUR",
                    shown,
                    at,
                )
            )
    return out


def _meter(
    s: DbSession, supply: list[Rec], authorize: list[Rec], evidence: list[str], at: float | None
) -> list[Violation]:
    sid = s.row.session_id
    kwh, eur = s.row.kwh or 0.0, s.row.eur or 0.0
    out = []
    progress = sorted(
        (r.event for r in supply if isinstance(r.event, SupplyProgress)),
        key=lambda e: e.seq,
    )
    ended = [
        r.event for r in sorted(supply, key=lambda r: r.offset) if isinstance(r.event, SupplyEnded)
    ]
    readings = [e.kwh for e in progress] + [e.kwh for e in ended[-1:]]
    step = max([KWH_TOLERANCE] + [b - a for a, b in zip(readings, readings[1:], strict=False)])
    final = ended[-1].kwh if ended else (progress[-1].kwh if progress else None)
    source = "supply_ended" if ended else "last supply_progress"
    if final is not None and not s.row.flag and abs(kwh - final) > step + 1e-9:
        out.append(
            Violation(
                "meter",
                sid,
                f"ticket {kwh:.3f} kWh, the meter's final reading ({source}) {final:.3f} kWh: "
                f"{abs(kwh - final):.3f} kWh apart, more than one reading ({step:.3f} kWh)",
                tuple(evidence),
                at,
            )
        )
    if authorize:
        price = authorize[0].event.price  # type: ignore[attr-defined]
        if s.row.price is not None and abs(s.row.price - price) > 1e-9:
            out.append(
                Violation(
                    "meter",
                    sid,
                    f"billed at {s.row.price} EUR/kWh, authorized at {price} EUR/kWh",
                    tuple(evidence),
                    at,
                )
            )
        if abs(eur - round(max(kwh, 0.0) * price, 2)) > EUR_TOLERANCE:
            out.append(
                Violation(
                    "meter",
                    sid,
                    f"{eur:.2f} EUR for {kwh:.3f} kWh at the authorized {price} EUR/kWh "
                    f"(expected {round(max(kwh, 0.0) * price, 2):.2f})",
                    tuple(evidence),
                    at,
                )
            )
    return out


def books(ev: Evidence) -> list[Violation]:
    """Central's own reconciliation checks (``wire.books``), row by row."""
    now = datetime.fromtimestamp(ev.checked_at or 0, UTC)
    return [
        Violation(
            f"books:{d.kind}", d.session_id, d.line(), (show_row(s),), epoch(s.row.authorized_at)
        )
        for s in ev.sessions
        for d in reconcile_check(s.row, now)
    ]


# ----------------------------------------------------------------------------- requests


def requests(ev: Evidence) -> list[Violation]:
    answered = {
        r.event.request_id  # type: ignore[attr-defined]
        for r in ev.on("evc.driver.notices")
        if isinstance(r.event, AuthorizedNotice | Denied)
    }
    out = []
    for rec in ev.on("evc.requests"):
        e = rec.event
        if isinstance(e, ChargeRequest) and e.origin == Origin.APP and e.request_id not in answered:
            out.append(
                Violation(
                    "request",
                    e.request_id,
                    f"{e.driver_id}'s request for {e.cp_id} was never answered (neither authorized nor denied)",
                    (f"{rec.where} charge_request ts={e.ts}",),
                    rec.ts,
                )
            )
    return out
