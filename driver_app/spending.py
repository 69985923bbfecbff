"""The driver's spending: totals per month from the local ticket history, and CSV export.

Qt-free (the window and tests use it alike). Months are the driver's own calendar months
(local time, like the ticket list), by the time each charge ended. The CSV has one line per
ticket with full-precision numbers, so reading it back gives the same totals.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from driver_app.session import TicketInfo
from wire.timefmt import local_time

CSV_FIELDS = ("session_id", "cp_id", "started_at", "ended_at", "duration_s", "kwh", "eur", "reason")


@dataclass(frozen=True, slots=True)
class MonthTotal:
    month: str  # YYYY-MM
    charges: int
    kwh: float
    eur: float

    @property
    def label(self) -> str:
        year, month = self.month.split("-")
        names = (
            "January February March April May June July August September October November December"
        )
        return f"{names.split()[int(month) - 1]} {year}"


def month_of(ticket: TicketInfo) -> str:
    """``YYYY-MM`` of the ticket's end in local time (``????-??`` for an unreadable time)."""
    return local_time(ticket.ended_at, "%Y-%m", unreadable="????-??")


def monthly_totals(tickets: Iterable[TicketInfo]) -> list[MonthTotal]:
    """One entry per month with tickets, oldest first."""
    sums: dict[str, tuple[int, float, float]] = {}
    for t in tickets:
        n, kwh, eur = sums.get(month_of(t), (0, 0.0, 0.0))
        sums[month_of(t)] = (n + 1, kwh + t.kwh, eur + t.eur)
    return [MonthTotal(m, *sums[m]) for m in sorted(sums)]


def tickets_of_month(tickets: Iterable[TicketInfo], month: str | None) -> list[TicketInfo]:
    """The tickets of ``month`` (``YYYY-MM``), or all of them for None; oldest first."""
    chosen = [t for t in tickets if month is None or month_of(t) == month]
    return sorted(chosen, key=lambda t: t.ended_at)


def write_tickets_csv(tickets: Iterable[TicketInfo], out: TextIO) -> MonthTotal:
    """Write the tickets; returns their totals (``month`` is the span written)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    n, kwh, eur, months = 0, 0.0, 0.0, set()
    for t in tickets:
        writer.writerow(
            (t.session_id, t.cp_id, t.started_at, t.ended_at, f"{t.duration_s:.3f}",
             repr(t.kwh), repr(t.eur), t.reason)
        )  # fmt: skip
        n, kwh, eur = n + 1, kwh + t.kwh, eur + t.eur
        months.add(month_of(t))
    span = next(iter(months)) if len(months) == 1 else "all"
    return MonthTotal(span, n, kwh, eur)


def read_tickets_csv(source: TextIO) -> list[TicketInfo]:
    reader = csv.DictReader(source)
    if tuple(reader.fieldnames or ()) != CSV_FIELDS:
        raise ValueError(f"not a tickets export: columns {reader.fieldnames}")
    return [
        TicketInfo(
            row["session_id"],
            row["cp_id"],
            float(row["kwh"]),
            float(row["eur"]),
            row["started_at"],
            row["ended_at"],
            row["reason"],
        )  # fmt: skip
        for row in reader
    ]
