"""The history's SQL: filters, totals, pages and reports computed by the database.

Paging and sorting happen in SQL (``ORDER BY … LIMIT … OFFSET``), totals are one aggregate
over the same filter, so a view of 100,000 tickets only ever holds a page of them; the
indexes behind it are ``HISTORY_INDEXES`` in :mod:`central_app.db`. Timelines read just the
columns they need and are computed by :mod:`central_app.history.timeline`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from central_app.db import ChargingPointRow, CpStateChangeRow, Database, DatabaseError, SessionRow
from central_app.history import timeline
from central_app.history.records import (
    CpReport,
    DayTotal,
    Fault,
    SessionFilter,
    SessionRecord,
    StateChange,
    Totals,
)
from central_app.history.timeouts import (
    GUI_TIMEOUTS,
    ReadTimeouts,
    describe_failure,
    timed_engine,
)
from wire.timefmt import now_ts

S = SessionRow.__table__.c
C = CpStateChangeRow.__table__.c

#: Columns a page may be sorted by (the rest of a row follows, then the id, for a stable order).
SORTABLE = {
    "ended_at": S.ended_at,
    "started_at": S.started_at,
    "cp_id": S.cp_id,
    "driver_id": S.driver_id,
    "kwh": S.kwh,
    "eur": S.eur,
    "reason": S.reason,
}

EVERYTHING = SessionFilter()

_ROW = (
    S.session_id, S.cp_id, S.driver_id, S.started_at, S.ended_at, S.kwh, S.eur, S.reason, S.flag,
    S.amended_from,
)  # fmt: skip


def _record(row) -> SessionRecord:  # type: ignore[no-untyped-def]
    return SessionRecord(
        row[0], row[1], row[2], row[3] or "", row[4] or "", row[5] or 0.0, row[6] or 0.0,
        row[7] or "", row[8] or "", row[9] or "",
    )  # fmt: skip


class History:
    """Read-only queries on Central's database; safe from any thread but Central's owner
    (each call takes its own pooled connection)."""

    def __init__(
        self, db: Database, *, engine: Engine | None = None, limits: ReadTimeouts | None = None
    ) -> None:
        self.db = db
        self.engine = engine or db.engine
        self.limits = limits or GUI_TIMEOUTS
        self._own_engine = engine is not None

    def timed(self, limits: ReadTimeouts = GUI_TIMEOUTS) -> History:
        """The same queries on connections of their own that give up after ``limits``
        (the control center's: it must never hang on the database); ``close`` them."""
        url = self.db.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return History(self.db, limits=limits)  # a second engine would see another database
        return History(self.db, engine=timed_engine(url, limits), limits=limits)

    def close(self) -> None:
        """Close the connections of an engine of its own (``timed``); Central's stay."""
        if self._own_engine:
            self.engine.dispose()

    def _rows(self, query):  # type: ignore[no-untyped-def]
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise DatabaseError(
                f"reading the history failed: {describe_failure(exc, self.limits)}"
            ) from exc

    # --- tickets --------------------------------------------------------------------------

    @staticmethod
    def _where(f: SessionFilter) -> ColumnElement[bool]:
        terms: list[ColumnElement[bool]] = [S.status == "ticketed"]
        if f.cp_id:
            terms.append(S.cp_id == f.cp_id)
        if f.driver_id:
            terms.append(S.driver_id == f.driver_id)
        if f.since:
            terms.append(S.ended_at >= f.since)
        if f.until:
            terms.append(S.ended_at < f.until)
        if f.reason:
            terms.append(S.reason == f.reason)
        if f.flagged:
            terms.append(S.flag.is_not(None))
        return and_(*terms)

    def totals(self, f: SessionFilter = EVERYTHING) -> Totals:
        (n, kwh, eur), = self._rows(
            select(func.count(), func.sum(S.kwh), func.sum(S.eur)).where(self._where(f))
        )  # fmt: skip
        return Totals(n or 0, kwh or 0.0, eur or 0.0)

    def page(
        self,
        f: SessionFilter = EVERYTHING,
        *,
        sort: str = "ended_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 200,
    ) -> list[SessionRecord]:
        column = SORTABLE.get(sort, S.ended_at)
        order = [column.desc(), S.id.desc()] if descending else [column.asc(), S.id.asc()]
        query = select(*_ROW).where(self._where(f)).order_by(*order).offset(offset).limit(limit)
        return [_record(r) for r in self._rows(query)]

    def sessions(
        self,
        f: SessionFilter = EVERYTHING,
        *,
        sort: str = "ended_at",
        descending: bool = False,  # noqa: B008
    ) -> Iterator[SessionRecord]:
        """Every ticket of the filter (export), in pages so memory stays flat."""
        offset, size = 0, 5000
        while True:
            rows = self.page(f, sort=sort, descending=descending, offset=offset, limit=size)
            yield from rows
            if len(rows) < size:
                return
            offset += size

    def cp_ids(self) -> list[str]:
        return [r[0] for r in self._rows(select(ChargingPointRow.id).order_by(ChargingPointRow.id))]

    def price(self, cp_id: str) -> float | None:
        rows = self._rows(select(ChargingPointRow.price).where(ChargingPointRow.id == cp_id))
        return rows[0][0] if rows else None

    # --- reports --------------------------------------------------------------------------

    def cp_report(self, since: str | None = None, until: str | None = None) -> list[CpReport]:
        """Per CP (every registered one, and any with tickets): tickets, kWh, € and faults."""
        f = SessionFilter(since=since, until=until)
        rows = self._rows(
            select(S.cp_id, func.count(), func.sum(S.kwh), func.sum(S.eur))
            .where(self._where(f))
            .group_by(S.cp_id)
        )
        faults = self.fault_counts(since, until)
        sums = {r[0]: (r[1], r[2] or 0.0, r[3] or 0.0) for r in rows}
        ids = sorted(set(self.cp_ids()) | set(sums) | set(faults))
        return [CpReport(i, *sums.get(i, (0, 0.0, 0.0)), faults.get(i, 0)) for i in ids]

    def per_day(
        self, cp_id: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[DayTotal]:
        """Tickets, kWh and € per UTC day in which they ended, oldest first."""
        day = func.substr(S.ended_at, 1, 10)
        rows = self._rows(
            select(day, func.count(), func.sum(S.kwh), func.sum(S.eur))
            .where(self._where(SessionFilter(cp_id=cp_id, since=since, until=until)))
            .group_by(day)
            .order_by(day)
        )
        return [DayTotal(r[0], r[1], r[2] or 0.0, r[3] or 0.0) for r in rows]

    # --- state history --------------------------------------------------------------------

    def state_changes(self, cp_id: str | None, since: str, until: str) -> list[StateChange]:
        query = select(C.ts, C.cp_id, C.status, C.reason).where(C.ts >= since, C.ts < until)
        if cp_id is not None:
            query = query.where(C.cp_id == cp_id)
        return [StateChange(*r) for r in self._rows(query.order_by(C.ts, C.id))]

    def initial_states(self, since: str, cp_id: str | None = None) -> dict[str, str]:
        """Each CP's status in force at ``since``: its newest change before it (ids grow
        with time: one writer appends them in order)."""
        newest = select(func.max(C.id).label("id")).where(C.ts < since)
        if cp_id is not None:
            newest = newest.where(C.cp_id == cp_id)
        newest_ids = newest.group_by(C.cp_id).subquery()
        rows = self._rows(select(C.cp_id, C.status).join(newest_ids, C.id == newest_ids.c.id))
        return {r[0]: r[1] for r in rows}

    def fault_counts(self, since: str | None = None, until: str | None = None) -> dict[str, int]:
        """How many times each CP turned BROKEN in the period."""
        query = select(C.cp_id, func.count()).where(C.status == "BROKEN")
        if since:
            query = query.where(C.ts >= since)
        if until:
            query = query.where(C.ts < until)
        return {r[0]: r[1] for r in self._rows(query.group_by(C.cp_id))}

    def availability(self, cp_id: str, since: str, until: str) -> dict[str, float]:
        """Share of the period (up to now) this CP spent in each status."""
        until = min(until, now_ts())
        initial = self.initial_states(since, cp_id).get(cp_id)
        return timeline.availability(self.state_changes(cp_id, since, until), initial, since, until)

    def faults(self, cp_id: str, since: str, until: str) -> list[Fault]:
        until = min(until, now_ts())
        initial = self.initial_states(since, cp_id).get(cp_id)
        return timeline.faults(self.state_changes(cp_id, since, until), initial, since, until)

    # --- charts ---------------------------------------------------------------------------

    def _supplies(self, since: str, until: str, cp_id: str | None = None):  # type: ignore[no-untyped-def]
        query = select(S.started_at, S.ended_at, S.kwh).where(
            S.status == "ticketed", S.ended_at >= since, S.started_at < until
        )
        if cp_id is not None:
            query = query.where(S.cp_id == cp_id)
        return [r for r in self._rows(query) if r[0] and r[1]]

    def energy_per_hour(
        self, since: str, until: str, cp_id: str | None = None
    ) -> list[tuple[datetime, float]]:
        return timeline.energy_per_hour(
            ((a, b, kwh or 0.0) for a, b, kwh in self._supplies(since, until, cp_id)), since, until
        )

    def simultaneous(self, since: str, until: str, buckets: int = 96) -> list[tuple[datetime, int]]:
        return timeline.simultaneous(
            ((a, b) for a, b, _ in self._supplies(since, until)), since, until, buckets
        )

    def network_states(
        self, since: str, until: str, buckets: int = 96
    ) -> tuple[list[datetime], dict[str, list[float]]]:
        """How many CPs were in each status over the period (up to now)."""
        until = min(until, now_ts())
        return timeline.state_counts(
            self.initial_states(since), self.state_changes(None, since, until), since, until,
            buckets,
        )  # fmt: skip
