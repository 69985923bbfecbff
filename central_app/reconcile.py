"""Do the books balance? The money checks of docs/reliability.md, over Central's database.

Every session Central authorized must end in exactly one ticket whose kWh is the meter's
final reading and whose € is kWh × the authorized price, whatever failed meanwhile. Central
records each engine's final reading beside the ticket (``sessions.meter_kwh``, also for late
and duplicate reports), so the books can be checked from the database alone:

- ``amount``: a ticket's € is not round(kWh × price, 2);
- ``kwh_differs_from_meter``: a ticket's kWh is not the meter's final reading (beyond the
  engines' rounding), unless the ticket is flagged (an implausible reading was refused);
- ``metered_not_ticketed``: the engine reported a final reading, no ticket exists;
- ``authorization_never_closed``: an authorization still open well past its expiry;
- ``ticket_without_authorization``: a ticket for a session Central never authorized.

``evc-admin reconcile [--since]`` prints them (exit 1 if any); Central runs the same check
every few minutes and audits and shows what it finds (``central_app.runtime``); the fault
campaign's checker (``evc-chaos``) starts from it. Plain functions over rows, no I/O but the
one query in :func:`find_discrepancies`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from central_app.db import Database, SessionRow
from wire.timefmt import format_ts, parse_ts, utc_now

#: kWh a ticket may differ from the meter by (engines round to 3 decimals)
KWH_TOLERANCE = 0.0015
#: s past an authorization's expiry before an open one is a discrepancy (grace + slack)
OPEN_SLACK_S = 120.0

S = SessionRow.__table__.c
_COLUMNS = (
    S.session_id, S.cp_id, S.driver_id, S.status, S.price, S.kwh, S.eur, S.meter_kwh, S.flag,
    S.authorized_at, S.expires_at, S.ended_at,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Discrepancy:
    session_id: str
    cp_id: str
    driver_id: str
    kind: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: session {self.session_id} at {self.cp_id} ({self.driver_id}): {self.detail}"


@dataclass(frozen=True, slots=True)
class Row:
    session_id: str
    cp_id: str
    driver_id: str
    status: str
    price: float | None
    kwh: float | None
    eur: float | None
    meter_kwh: float | None
    flag: str | None
    authorized_at: str | None
    expires_at: str | None
    ended_at: str | None


def check(row: Row, now: datetime) -> list[Discrepancy]:
    """The discrepancies of one session (an empty list: it balances)."""
    out: list[str] = []
    kind_of: list[str] = []

    def found(kind: str, detail: str) -> None:
        kind_of.append(kind)
        out.append(detail)

    if row.status == "ticketed":
        kwh, eur = row.kwh or 0.0, row.eur or 0.0
        if row.price is not None and abs(eur - round(max(kwh, 0.0) * row.price, 2)) > 0.005:
            found("amount", f"{eur:.2f} EUR for {kwh:.3f} kWh at {row.price} EUR/kWh")
        if row.meter_kwh is not None and not row.flag and abs(kwh - row.meter_kwh) > KWH_TOLERANCE:
            found(
                "kwh_differs_from_meter",
                f"ticket {kwh:.3f} kWh, the engine's final reading {row.meter_kwh:.3f} kWh",
            )
        if not row.authorized_at:
            found("ticket_without_authorization", f"ticket {kwh:.3f} kWh, {eur:.2f} EUR")
    elif row.meter_kwh is not None:
        found(
            "metered_not_ticketed",
            f"the engine reported {row.meter_kwh:.3f} kWh; the session is {row.status}",
        )
    elif row.status == "authorized" and row.expires_at:
        try:
            overdue = (now - parse_ts(row.expires_at)).total_seconds()
        except ValueError:
            overdue = 0.0
        if overdue > OPEN_SLACK_S:
            found("authorization_never_closed", f"expired {overdue:.0f} s ago, still authorized")
    return [
        Discrepancy(row.session_id, row.cp_id, row.driver_id, kind, detail)
        for kind, detail in zip(kind_of, out, strict=True)
    ]


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
