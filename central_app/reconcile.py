"""Do the books balance? The money checks of docs/reliability.md, over Central's database.

Every session Central authorized must end in exactly one ticket whose kWh is the meter's
final reading and whose € is kWh × the authorized price, whatever failed meanwhile. Central
records each engine's final reading beside the ticket (``sessions.meter_kwh``, also for late
and duplicate reports), so the books can be checked from the database alone, by the rules of
``wire.books`` (the kinds of discrepancy are listed there).

``evc-admin reconcile [--since]`` prints them (exit 1 if any); Central runs the same check
every few minutes and audits and shows what it finds (``central_app.upkeep``); the fault
campaign's checker (``evc-chaos``) applies the same rules to the rows it reads itself. Here
is the one query, :func:`find_discrepancies`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from central_app.db import Database, SessionRow
from wire.books import Discrepancy, Row, check
from wire.timefmt import format_ts, utc_now

__all__ = ["Discrepancy", "Row", "check", "find_discrepancies", "window_start"]

S = SessionRow.__table__.c
_COLUMNS = (
    S.session_id, S.cp_id, S.driver_id, S.status, S.price, S.kwh, S.eur, S.meter_kwh, S.flag,
    S.authorized_at, S.expires_at, S.ended_at,
)  # fmt: skip


def find_discrepancies(db: Database, since: str | None = None) -> list[Discrepancy]:
    """Every discrepancy among the sessions authorized or ended since ``since`` (all when
    None), oldest first."""
    query = select(*_COLUMNS).order_by(S.id)
    if since is not None:
        query = query.where(
            or_(S.authorized_at >= since, S.ended_at >= since, S.ticketed_at >= since)
        )
    now = utc_now()
    with db.engine.connect() as conn:
        rows = [Row(*r) for r in conn.execute(query)]
    return [d for row in rows for d in check(row, now)]


def window_start(minutes: float) -> str:
    return format_ts(utc_now() - timedelta(minutes=minutes))
