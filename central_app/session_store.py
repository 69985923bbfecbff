"""Sessions and tickets in the database: one ``with Session.begin()`` per method.

Ticket idempotence lives here: :meth:`SessionStore.issue_ticket` is a conditional UPDATE (or
an INSERT guarded by the unique ``session_id``), so exactly one caller ever "creates" the
ticket of a session, whatever the number of ``supply_ended`` deliveries or processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from central_app.billing import TicketData
from central_app.db import OPEN_STATUSES, Database, Fenced, SessionRow
from central_app.db_writer import transient
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
    provisional: bool = False


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

    def create_session(self, **row: Any) -> None:
        """``cp_id, session_id, request_id, driver_id, origin, price, authorized_at,
        expires_at``: the row of a new authorization."""
        with self.db.engine.begin() as conn:
            _create(conn, row)

    def mark_started(self, session_id: str, started_at: str) -> None:
        with self.db.engine.begin() as conn:
            _start(conn, session_id, started_at)

    def reopen_session(self, session_id: str, started_at: str) -> None:
        """A session Central had let go turned out to be supplying after all."""
        with self.db.engine.begin() as conn:
            _reopen(conn, session_id, started_at)

    def close_session(self, session_id: str, status: str, reason: str) -> bool:
        """End an authorization that never became a supply (expired, rejected, cancelled)."""
        with self.db.engine.begin() as conn:
            return _close(conn, session_id, status, reason)

    def write_sessions(self, ops: list[SessionOp]) -> list[Any]:
        """Run ``ops`` in order in one transaction: at 2,000 supplies Central makes hundreds
        of these writes a second, and a transaction each cost the writer thread (and the
        interpreter lock the core shares) several times the statements themselves.

        When one op fails for good (e.g. a ticket's guarded INSERT lost a race), the
        transaction is rolled back and each op runs alone, so only that op fails. An op
        keeps its result once committed: if the database goes away half-way through and
        the writer calls this again, what was committed is not done twice.
        """
        todo = [op for op in ops if op.result is _PENDING]
        try:
            with self.db.engine.begin() as conn:
                results = _run_in_rounds(conn, todo)
        except Exception as exc:
            if transient(exc) or isinstance(exc, Fenced):
                raise
            for op in todo:
                try:
                    with self.db.engine.begin() as conn:
                        op.result = op.run(conn)
                except IntegrityError as failed:
                    op.result = op.on_conflict(failed)
                except Exception as failed:
                    if transient(failed) or isinstance(failed, Fenced):
                        raise
                    op.result = failed
        else:
            for op, result in zip(todo, results, strict=True):
                op.result = result
        return [op.result for op in ops]

    def session_info(self, session_id: str) -> SessionInfo | None:
        with self.db.Session.begin() as s:
            row = s.scalar(select(SessionRow).where(SessionRow.session_id == session_id))
            if row is None:
                return None
            return SessionInfo(
                row.cp_id,
                row.driver_id,
                row.request_id,
                row.price,
                row.status,
                bool(row.provisional),
            )

    def recent_sessions(
        self, since: str, provisional_since: str, limit: int
    ) -> list[tuple[str, tuple[str, str, str | None, float | None, str, bool]]]:
        """The open sessions, those authorized or ticketed since ``since`` and the
        provisional tickets since ``provisional_since`` (oldest first, at most ``limit``):
        what the core keeps in memory (``central_app.session_notes``) to answer
        redeliveries without reading the database."""
        with self.db.Session.begin() as s:
            rows = s.execute(
                select(
                    SessionRow.session_id,
                    SessionRow.cp_id,
                    SessionRow.driver_id,
                    SessionRow.request_id,
                    SessionRow.price,
                    SessionRow.status,
                    SessionRow.provisional,
                )
                .where(
                    (SessionRow.authorized_at >= since)
                    | (SessionRow.ticketed_at >= since)
                    | SessionRow.status.in_(OPEN_STATUSES)
                    | (
                        SessionRow.provisional.is_(True)
                        & (SessionRow.status == "ticketed")
                        & (SessionRow.ticketed_at >= provisional_since)
                    )
                )
                .order_by(SessionRow.id.desc())
                .limit(limit)
            ).all()
        return [(r[0], (r[1], r[2], r[3], r[4], r[5], bool(r[6]))) for r in reversed(rows)]

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
        try:
            with self.db.engine.begin() as conn:
                return _ticket(conn, ticket)
        except IntegrityError:
            return False

    def recent_tickets(self, since: str) -> list[tuple[TicketData, str | None]]:
        """Tickets written since ``since`` whose notice the brokers never acknowledged, each
        with what it said before an amendment (or None): what a Central taking office sends
        again, since the one before it may have written a ticket and been stopped or deposed
        before its notice left. (Every ticket of the last minutes, sent again at each
        takeover, reached drivers two to four times: found by evc-chaos, seed 2027.)"""
        with self.db.Session.begin() as s:
            rows = s.scalars(
                select(SessionRow)
                .where(
                    SessionRow.status == "ticketed",
                    SessionRow.ticketed_at >= since,
                    SessionRow.notified_at.is_(None),  # the others reached the brokers
                )
                .order_by(SessionRow.id)
            )
            return [(_ticket_of(r, flag=None), r.amended_from) for r in rows]

    def tickets(self, session_id: str | None = None) -> list[TicketData]:
        with self.db.Session.begin() as s:
            query = (
                select(SessionRow).where(SessionRow.status == "ticketed").order_by(SessionRow.id)
            )
            if session_id is not None:
                query = query.where(SessionRow.session_id == session_id)
            return [_ticket_of(r, flag=r.flag) for r in s.scalars(query)]


def _ticket_of(r: SessionRow, *, flag: str | None) -> TicketData:
    """A ticketed session's row as the ticket (``flag``: the row's, where the caller wants
    it; a resent notice carries none)."""
    return TicketData(
        r.session_id,
        r.cp_id,
        r.driver_id,
        r.kwh or 0.0,
        r.eur or 0.0,
        r.started_at or "",
        r.ended_at or "",
        r.reason or "",
        r.request_id,
        flag,
    )


# --- the statements, on a connection (one transaction each, or many in ``write_sessions``) --

_PENDING: Any = object()


@dataclass(slots=True)
class SessionOp:
    """One session write for :meth:`SessionStore.write_sessions` (``kind``: ``create``,
    ``start``, ``reopen``, ``close``, ``ticket``, ``amend``, ``meter`` or ``notified``);
    ``result`` is set once committed."""

    kind: str
    args: tuple[Any, ...]
    result: Any = _PENDING

    def run(self, conn: Connection) -> Any:
        return _STATEMENTS[self.kind](conn, *self.args)

    def on_conflict(self, exc: IntegrityError) -> Any:
        """A unique constraint said no: a second ticket for the session is "not the first"
        (False); for anything else it is the op's failure."""
        return False if self.kind == "ticket" else exc


# Built once: constructing a statement per write (and its cache key) cost the writer thread
# more than executing it; the values are bound parameters. (A bound name may not be a column
# name of the SET clause, hence the ``b_`` prefix.)
_CREATE = insert(SESSIONS)
_START = (
    update(SESSIONS)
    .where(
        SESSIONS.c.session_id == bindparam("b_sid"),
        or_(*(SESSIONS.c.status == status for status in OPEN_STATUSES)),  # IN: no executemany
    )
    .values(status="supplying", started_at=bindparam("b_started"))
)
_REOPEN = (
    update(SESSIONS)
    .where(SESSIONS.c.session_id == bindparam("b_sid"), SESSIONS.c.status != "ticketed")
    .values(status="supplying", started_at=bindparam("b_started"), reason=None, ended_at=None)
)
_CLOSE = (
    update(SESSIONS)
    .where(SESSIONS.c.session_id == bindparam("b_sid"), SESSIONS.c.status == "authorized")
    .values(status=bindparam("b_status"), reason=bindparam("b_reason"), ended_at=bindparam("b_at"))
)
_TICKET = (
    update(SESSIONS)
    .where(SESSIONS.c.session_id == bindparam("b_sid"), SESSIONS.c.status != "ticketed")
    .values(
        status="ticketed",
        kwh=bindparam("b_kwh"),
        eur=bindparam("b_eur"),
        started_at=bindparam("b_started"),
        ended_at=bindparam("b_ended"),
        reason=bindparam("b_reason"),
        ticketed_at=bindparam("b_at"),
        flag=bindparam("b_flag"),
        provisional=bindparam("b_prov"),
    )
)
_PROVISIONAL = select(SESSIONS.c.kwh, SESSIONS.c.eur, SESSIONS.c.reason).where(
    SESSIONS.c.session_id == bindparam("b_sid"),
    SESSIONS.c.status == "ticketed",
    SESSIONS.c.provisional.is_(True),
)
_AMEND = (
    update(SESSIONS)
    .where(
        SESSIONS.c.session_id == bindparam("b_sid"),
        SESSIONS.c.status == "ticketed",
        SESSIONS.c.provisional.is_(True),
    )
    .values(
        kwh=bindparam("b_kwh"),
        eur=bindparam("b_eur"),
        ended_at=bindparam("b_ended"),
        reason=bindparam("b_reason"),
        provisional=False,
        amended_from=bindparam("b_was"),
        notified_at=None,  # the amended ticket is a notice of its own
    )
)
_METER = (
    update(SESSIONS)
    .where(SESSIONS.c.session_id == bindparam("b_sid"))
    .values(meter_kwh=bindparam("b_meter"))
)
# The driver's ticket notice reached the brokers: the first one (not amended) or the amended
# one; an acknowledgement of the first that arrives after the amendment marks nothing.
_NOTIFIED = {
    amended: update(SESSIONS)
    .where(
        SESSIONS.c.session_id == bindparam("b_sid"),
        SESSIONS.c.status == "ticketed",
        SESSIONS.c.amended_from.isnot(None) if amended else SESSIONS.c.amended_from.is_(None),
    )
    .values(notified_at=bindparam("b_at"))
    for amended in (False, True)
}
_SESSION_ID = select(SESSIONS.c.id).where(SESSIONS.c.session_id == bindparam("b_sid"))


def _create_params(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "status": "authorized"}


def _start_params(session_id: str, started_at: str) -> dict[str, Any]:
    return {"b_sid": session_id, "b_started": started_at}


def _meter_params(session_id: str, kwh: float) -> dict[str, Any]:
    return {"b_sid": session_id, "b_meter": kwh}


def _meter(conn: Connection, session_id: str, kwh: float) -> None:
    conn.execute(_METER, _meter_params(session_id, kwh))


def _notified(conn: Connection, session_id: str, amended: bool) -> None:
    conn.execute(_NOTIFIED[amended], {"b_sid": session_id, "b_at": now_ts()})


def _create(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(_CREATE, _create_params(row))


def _start(conn: Connection, session_id: str, started_at: str) -> None:
    conn.execute(_START, _start_params(session_id, started_at))


def _reopen(conn: Connection, session_id: str, started_at: str) -> None:
    conn.execute(_REOPEN, _start_params(session_id, started_at))


def _close(conn: Connection, session_id: str, status: str, reason: str) -> bool:
    params = {"b_sid": session_id, "b_status": status, "b_reason": reason, "b_at": now_ts()}
    return conn.execute(_CLOSE, params).rowcount == 1


def _ticket(conn: Connection, ticket: TicketData) -> bool:
    at = now_ts()
    guarded = {
        "b_sid": ticket.session_id,
        "b_kwh": ticket.kwh,
        "b_eur": ticket.eur,
        "b_started": ticket.started_at,
        "b_ended": ticket.ended_at,
        "b_reason": ticket.reason,
        "b_at": at,
        "b_flag": ticket.flag,
        "b_prov": ticket.provisional or None,
    }
    if conn.execute(_TICKET, guarded).rowcount == 1:
        return True
    if conn.scalar(_SESSION_ID, {"b_sid": ticket.session_id}):
        return False
    conn.execute(
        _CREATE,
        {
            "session_id": ticket.session_id,
            "request_id": ticket.request_id,
            "driver_id": ticket.driver_id,
            "cp_id": ticket.cp_id,
            "origin": "app",
            "status": "ticketed",
            "kwh": ticket.kwh,
            "eur": ticket.eur,
            "started_at": ticket.started_at,
            "ended_at": ticket.ended_at,
            "reason": ticket.reason,
            "ticketed_at": at,
            "flag": ticket.flag,
            "provisional": ticket.provisional or None,
        },
    )
    return True


def _amend(conn: Connection, ticket: TicketData) -> tuple[float, float, str] | None:
    """Replace a provisional ticket's figures with the engine's final reading, once: the
    (kWh, EUR, reason) it had, or None when the session has no provisional ticket (never
    had one, or already amended)."""
    before = conn.execute(_PROVISIONAL, {"b_sid": ticket.session_id}).first()
    if before is None:
        return None
    params = {
        "b_sid": ticket.session_id,
        "b_kwh": ticket.kwh,
        "b_eur": ticket.eur,
        "b_ended": ticket.ended_at,
        "b_reason": ticket.reason,
        "b_was": f"{before[0] or 0.0:.3f} kWh, {before[1] or 0.0:.2f} EUR ({before[2] or ''})",
    }
    if conn.execute(_AMEND, params).rowcount != 1:
        return None
    return float(before[0] or 0.0), float(before[1] or 0.0), str(before[2] or "")


_STATEMENTS: dict[str, Callable[..., Any]] = {
    "create": _create,
    "start": _start,
    "reopen": _reopen,
    "close": _close,
    "ticket": _ticket,
    "amend": _amend,
    "meter": _meter,
    "notified": _notified,
}

# Writes whose result nobody reads: a round's ops of one of these kinds are one executemany.
_MANY: dict[str, tuple[Any, Callable[..., dict[str, Any]]]] = {
    "create": (_CREATE, _create_params),
    "start": (_START, _start_params),
    "reopen": (_REOPEN, _start_params),
    "meter": (_METER, _meter_params),
}


def _session_of(op: SessionOp) -> str:
    first = op.args[0]
    if op.kind == "create":
        return str(first["session_id"])
    if op.kind in ("ticket", "amend"):
        return str(first.session_id)
    return str(first)


def _run_in_rounds(conn: Connection, ops: list[SessionOp]) -> list[Any]:
    """Run ``ops`` with the effect of running them in order, in far fewer statements: at
    2,000 supplies a batch holds hundreds of creates and starts, and a statement each kept
    the writer thread (and the interpreter lock the heartbeats need) busy for most of a wave.

    A round holds at most one op per session, so its ops commute and each kind can run as
    one executemany; a session's next op starts the next round. Closes and tickets run one
    by one: their result (did this write change the row?) is per op.
    """
    results: list[Any] = [None] * len(ops)
    kinds: dict[str, list[int]] = {}
    sessions: set[str] = set()

    def flush() -> None:
        for kind, indexes in kinds.items():
            many = _MANY.get(kind)
            if many is not None and len(indexes) > 1:
                statement, params = many
                conn.execute(statement, [params(*ops[i].args) for i in indexes])
            else:
                for i in indexes:
                    results[i] = ops[i].run(conn)
        kinds.clear()
        sessions.clear()

    for i, op in enumerate(ops):
        session_id = _session_of(op)
        if session_id in sessions:
            flush()
        sessions.add(session_id)
        kinds.setdefault(op.kind, []).append(i)
    flush()
    return results
