"""A violation of one of the campaign's invariants, and how the rules show their evidence."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.evidence import DbSession, Rec
from wire.timefmt import parse_ts


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    subject: str  # a session id, a CP, a process, a log
    detail: str
    evidence: tuple[str, ...] = ()
    at: float | None = None  # epoch seconds: when it happened, for the timeline around it


def epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return parse_ts(ts).timestamp()
    except ValueError:
        return None


def show(rec: Rec) -> str:
    e = rec.event
    fields = ", ".join(
        f"{k}={getattr(e, k)}"
        for k in ("seq", "kwh", "eur", "price", "status", "reason", "was_kwh")
        if getattr(e, k, None) is not None
    )
    return f"{rec.where} {e.TYPE}" + (f" ({fields})" if fields else "")


def show_row(s: DbSession) -> str:
    r = s.row
    return (
        f"database: status={r.status} kwh={r.kwh} eur={r.eur} price={r.price} "
        f"meter_kwh={r.meter_kwh} flag={r.flag} authorized_at={r.authorized_at} "
        f"ended_at={r.ended_at} origin={s.origin}"
        + (f" amended_from={s.amended_from!r}" if s.amended_from else "")
    )
