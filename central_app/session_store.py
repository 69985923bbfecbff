"""Sessions and tickets in the database: one ``with Session.begin()`` per method.

Ticket idempotence lives here: :meth:`SessionStore.issue_ticket` is a conditional UPDATE (or
an INSERT guarded by the unique ``session_id``), so exactly one caller ever "creates" the
ticket of a session, whatever the number of ``supply_ended`` deliveries or processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from central_app.billing import TicketData
from central_app.db import OPEN_STATUSES, Database, SessionRow
from wire.timefmt import now_ts

SESSIONS = SessionRow.__table__


@dataclass(frozen=True, slots=True)
class OpenSession:
    cp_id: str
    session_id: str
    request_id: str | None
    driver_id: str
    origin: str
    price: float | None
    authorized_at: str | None
    expires_at: str | None
    started_at: str | None
    status: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    cp_id: str
    driver_id: str
    request_id: str | None
    price: float | None
    status: str


class SessionStore:
    db: Database

    # --- sessions and tickets -------------------------------------------------------------

    def request_seen(self, request_id: str) -> bool:
        with self.db.Session.begin() as s:
            return (
                s.scalar(select(SessionRow.id).where(SessionRow.request_id == request_id).limit(1))
                is not None
            )

    # The writes Central makes for every supply (create, start, ticket, close) go through
    # SQLAlchemy Core on a connection rather than the ORM session: the same SQL, a fraction
    # of the Python, and the writer thread holds the interpreter lock that much less while
    # the core answers 10,000 heartbeats a second.

    def create_session(
        self,
        *,
        cp_id: str,
        session_id: str,
        request_id: str | None,
        driver_id: str,
        origin: str,
        price: float,
        authorized_at: str,
        expires_at: str,
    ) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                insert(SESSIONS).values(
                    session_id=session_id,
                    request_id=request_id,
                    driver_id=driver_id,
                    cp_id=cp_id,
                    origin=origin,
                    price=price,
                    authorized_at=authorized_at,
                    expires_at=expires_at,
                    status="authorized",
                )
            )

    def mark_started(self, session_id: str, started_at: str) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.session_id == session_id, SESSIONS.c.status.in_(OPEN_STATUSES))
                .values(status="supplying", started_at=started_at)
            )

    def reopen_session(self, session_id: str, started_at: str) -> None:
        """A session Central had let go turned out to be supplying after all."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.session_id == session_id, SESSIONS.c.status != "ticketed")
                .values(status="supplying", started_at=started_at, reason=None, ended_at=None)
            )

    def close_session(self, session_id: str, status: str, reason: str) -> bool:
        """End an authorization that never became a supply (expired, rejected, cancelled)."""
        with self.db.engine.begin() as conn:
            result = conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.session_id == session_id, SESSIONS.c.status == "authorized")
                .values(status=status, reason=reason, ended_at=now_ts())
            )
            return result.rowcount == 1

    def session_info(self, session_id: str) -> SessionInfo | None:
        with self.db.Session.begin() as s:
            row = s.scalar(select(SessionRow).where(SessionRow.session_id == session_id))
            if row is None:
                return None
            return SessionInfo(row.cp_id, row.driver_id, row.request_id, row.price, row.status)

    def recent_sessions(
        self, since: str, limit: int
    ) -> list[tuple[str, tuple[str, str, str | None, float | None, str]]]:
        """Sessions authorized or ticketed since ``since`` (oldest first, at most ``limit``):
        what the core keeps in memory to answer redeliveries without reading the database."""
        with self.db.Session.begin() as s:
            rows = s.execute(
                select(
                    SessionRow.session_id,
                    SessionRow.cp_id,
                    SessionRow.driver_id,
                    SessionRow.request_id,
                    SessionRow.price,
                    SessionRow.status,
                )
                .where(
                    (SessionRow.authorized_at >= since)
                    | (SessionRow.ticketed_at >= since)
                    | SessionRow.status.in_(OPEN_STATUSES)
                )
                .order_by(SessionRow.id.desc())
                .limit(limit)
            ).all()
        return [(r[0], (r[1], r[2], r[3], r[4], r[5])) for r in reversed(rows)]

    def open_sessions(self) -> list[OpenSession]:
        with self.db.Session.begin() as s:
            rows = s.scalars(
                select(SessionRow)
                .where(SessionRow.status.in_(OPEN_STATUSES))
                .order_by(SessionRow.id)
            )
            return [
                OpenSession(
                    r.cp_id,
                    r.session_id,
                    r.request_id,
                    r.driver_id,
                    r.origin,
                    r.price,
                    r.authorized_at,
                    r.expires_at,
                    r.started_at,
                    r.status,
                )
                for r in rows
            ]

    def issue_ticket(self, ticket: TicketData) -> bool:
        """Exactly once per session_id: a conditional UPDATE, or an INSERT guarded by the
        unique constraint for a session Central never authorized."""
        values = {
            "status": "ticketed",
            "kwh": ticket.kwh,
            "eur": ticket.eur,
            "started_at": ticket.started_at,
            "ended_at": ticket.ended_at,
            "reason": ticket.reason,
            "ticketed_at": now_ts(),
        }
        try:
            with self.db.engine.begin() as conn:
                result = conn.execute(
                    update(SESSIONS)
                    .where(
                        SESSIONS.c.session_id == ticket.session_id,
                        SESSIONS.c.status != "ticketed",
                    )
                    .values(**values)
                )
                if result.rowcount == 1:
                    return True
                if conn.scalar(
                    select(SESSIONS.c.id).where(SESSIONS.c.session_id == ticket.session_id)
                ):
                    return False
                conn.execute(
                    insert(SESSIONS).values(
                        session_id=ticket.session_id,
                        request_id=ticket.request_id,
                        driver_id=ticket.driver_id,
                        cp_id=ticket.cp_id,
                        origin="app",
                        **values,
                    )
                )
            return True
        except IntegrityError:
            return False

    def tickets(self, session_id: str | None = None) -> list[TicketData]:
        with self.db.Session.begin() as s:
            query = (
                select(SessionRow).where(SessionRow.status == "ticketed").order_by(SessionRow.id)
            )
            if session_id is not None:
                query = query.where(SessionRow.session_id == session_id)
            return [
                TicketData(
                    r.session_id,
                    r.cp_id,
                    r.driver_id,
                    r.kwh or 0.0,
                    r.eur or 0.0,
                    r.started_at or "",
                    r.ended_at or "",
                    r.reason or "",
                    r.request_id,
                )
                for r in s.scalars(query)
            ]
