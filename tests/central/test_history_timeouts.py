"""The control center's history reads give up (issue 22, item 5): on each backend a statement
past the limit ends in one line for the operator instead of a window waiting for it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from central_app.db import DatabaseError, open_database
from central_app.history import History, ReadTimeouts

LIMITS = ReadTimeouts(connect_s=2.0, statement_s=0.5)

SLOW = {
    # counts for ever: only SQLite's progress handler (the deadline) stops it
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
}


def test_a_slow_statement_gives_up_with_a_line_for_the_operator(db_url: str) -> None:
    db = open_database(db_url)
    timed = History(db).timed(LIMITS)
    try:
        assert timed.totals().sessions == 0  # ordinary reads work on the timed connections
        began = time.monotonic()
        with pytest.raises(DatabaseError) as failed:
            timed._rows(text(SLOW[timed.engine.dialect.name]))
        assert time.monotonic() - began < 4  # not the 5 s (or forever) the query asked for
        assert str(failed.value) == (
            "reading the history failed: the database did not answer within 0.5 s"
        )
        assert timed.totals().sessions == 0  # and the next query is served
    finally:
        timed.close()
        db.dispose()
