"""Session writes in one transaction (``SessionStore.write_sessions``), on SQLite and
PostgreSQL: the results each op would have had alone, a failing op isolated, and nothing
done twice when the writer runs the same batch again after an outage."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from central_app.billing import TicketData
from central_app.db import SessionRow, open_database
from central_app.session_store import SessionOp
from central_app.store import DEFAULT_SEED, Store


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(open_database(db_url))
    s.seed(DEFAULT_SEED)
    return s


def row(session_id: str, cp_id: str = "CP-01") -> dict[str, object]:
    return {
        "cp_id": cp_id,
        "session_id": session_id,
        "request_id": f"r-{session_id}",
        "driver_id": "D-001",
        "origin": "app",
        "price": 0.42,
        "authorized_at": "2026-11-26T08:00:00.000Z",
        "expires_at": "2026-11-26T08:00:30.000Z",
    }


def ticket(session_id: str, kwh: float = 2.0) -> TicketData:
    return TicketData(
        session_id=session_id,
        request_id=f"r-{session_id}",
        cp_id="CP-01",
        driver_id="D-001",
        kwh=kwh,
        eur=round(kwh * 0.42, 2),
        started_at="2026-11-26T08:00:05.000Z",
        ended_at="2026-11-26T08:10:00.000Z",
        reason="unplugged",
    )


def sessions(store: Store) -> int:
    with store.db.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(SessionRow)) or 0)


def test_a_batch_gives_each_op_its_own_result_in_order(store: Store) -> None:
    ops = [
        SessionOp("create", (row("s1"),)),
        SessionOp("start", ("s1", "2026-11-26T08:00:05.000Z")),
        SessionOp("create", (row("s2", "CP-02"),)),
        SessionOp("close", ("s2", "expired", "authorization_expired")),
        SessionOp("ticket", (ticket("s1"),)),
        SessionOp("ticket", (ticket("s1", kwh=9.0),)),  # redelivered: not the first
    ]
    assert store.write_sessions(ops) == [None, None, None, True, True, False]
    (t1,) = store.tickets("s1")
    assert (t1.kwh, t1.reason) == (2.0, "unplugged")  # the first ticket stands
    assert store.session_info("s2").status == "expired"  # type: ignore[union-attr]


def test_a_failing_op_fails_alone(store: Store) -> None:
    store.write_sessions([SessionOp("create", (row("s1"),))])
    ops = [
        SessionOp("create", (row("s2"),)),
        SessionOp("create", (row("s1"),)),  # the same session again: unique constraint
        SessionOp("ticket", (ticket("s2"),)),
    ]
    results = store.write_sessions(ops)
    assert results[0] is None and results[2] is True
    assert isinstance(results[1], Exception)
    assert sessions(store) == 2
    assert len(store.tickets("s2")) == 1


def test_a_batch_run_again_does_not_repeat_what_was_committed(store: Store) -> None:
    done = SessionOp("create", (row("s1"),), result=None)  # committed by an earlier call
    store.write_sessions([SessionOp("create", (row("s0"),))])
    assert store.write_sessions([done, SessionOp("ticket", (ticket("s0"),))]) == [None, True]
    assert sessions(store) == 1  # s1 was not inserted by this call


def rows_of(store: Store) -> list[tuple[object, ...]]:
    columns = ("session_id", "status", "started_at", "reason", "kwh")  # not now_ts() stamps
    with store.db.engine.connect() as conn:
        query = select(*(getattr(SessionRow, c) for c in columns)).order_by(SessionRow.session_id)
        return [tuple(r) for r in conn.execute(query)]


def test_grouped_writes_leave_the_rows_of_one_op_at_a_time(db_url: str) -> None:
    """Creates and starts of many sessions run as one statement per kind and round; the
    rows must be those the ops give run one by one, including a session that is created,
    started, ticketed, reopened and ticketed again in one batch."""
    ops: list[SessionOp] = []
    for i in range(40):
        ops.append(SessionOp("create", (row(f"s{i:02}", f"CP-0{1 + i % 3}"),)))
    for i in range(0, 40, 2):
        ops.append(SessionOp("start", (f"s{i:02}", f"2026-11-26T08:01:{i:02}.000Z")))
    ops += [
        SessionOp("ticket", (ticket("s00"),)),
        SessionOp("reopen", ("s02", "2026-11-26T08:02:00.000Z")),
        SessionOp("close", ("s01", "expired", "authorization_expired")),
        SessionOp("close", ("s02", "expired", "authorization_expired")),  # supplying: no
        SessionOp("start", ("s00", "2026-11-26T08:03:00.000Z")),  # ticketed: no change
        SessionOp("ticket", (ticket("s02", kwh=3.0),)),
        SessionOp("reopen", ("s04", "2026-11-26T08:04:00.000Z")),
        SessionOp("start", ("s05", "2026-11-26T08:05:00.000Z")),
        SessionOp("close", ("s39", "expired", "authorization_expired")),
        SessionOp("start", ("s39", "2026-11-26T08:06:00.000Z")),  # expired: no
    ]

    def fresh() -> Store:
        s = Store(open_database(db_url))
        with s.db.engine.begin() as conn:
            conn.execute(SessionRow.__table__.delete())
        return s

    one_by_one = fresh()
    singly = [one_by_one.write_sessions([SessionOp(op.kind, op.args)])[0] for op in ops]
    expected = rows_of(one_by_one)

    grouped = fresh()
    statements: list[str] = []
    event.listen(grouped.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert grouped.write_sessions([SessionOp(op.kind, op.args) for op in ops]) == singly
    # one transaction, not the one-by-one fallback: 40 creates and 20 starts in 2 statements
    assert len(statements) < 20, statements
    assert rows_of(grouped) == expected
    assert len(expected) == 40 and expected[0][1] == "ticketed" and expected[2][1] == "ticketed"
    assert expected[39][1] == "expired"
