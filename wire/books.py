"""The money rules over one session row of Central's ``sessions`` table (docs/reliability.md).

Shared by Central (``central_app.reconcile``: ``evc-admin reconcile`` and its periodic check)
and the fault campaign's checker (``chaos.books``), so both judge the books by the same rules
without either importing the other. Plain functions over rows, no I/O.

The kinds of :class:`Discrepancy`:

- ``amount``: a ticket's € is not round(kWh × price, 2);
- ``kwh_differs_from_meter``: a ticket's kWh is not the meter's final reading (beyond the
  engines' rounding), unless the ticket is flagged (an implausible reading was refused);
- ``metered_not_ticketed``: the engine reported a final reading, no ticket exists;
- ``authorization_never_closed``: an authorization still open well past its expiry;
- ``ticket_without_authorization``: a ticket for a session Central never authorized.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wire.timefmt import parse_ts

#: kWh a ticket may differ from the meter by (engines round to 3 decimals)
KWH_TOLERANCE = 0.0015
#: s past an authorization's expiry before an open one is a discrepancy (grace + slack)
OPEN_SLACK_S = 120.0


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
