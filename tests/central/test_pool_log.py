"""SQLAlchemy's pool and a connection it cannot roll back (central_app.pool_log): found by
evc-chaos (seed 2026, 60 min), "Exception during reset or similar" with a traceback in
Central's log after a PostgreSQL restart, which the campaign's ``traceback`` rule forbids."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.pool import QueuePool

from central_app.pool_log import quiet_pool_resets


class _DeadOnRollback:
    """A DBAPI connection whose server went away: its rollback fails."""

    def __init__(self, alive: bool) -> None:
        self.alive = alive
        self.closed = False

    def rollback(self) -> None:
        if not self.alive:
            raise ConnectionError("the connection is lost")

    def close(self) -> None:
        self.closed = True


def test_a_connection_that_cannot_be_reset_is_one_warning_and_the_pool_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    made: list[_DeadOnRollback] = []

    def connect() -> _DeadOnRollback:
        made.append(_DeadOnRollback(alive=bool(made)))  # the first one dies
        return made[-1]

    quiet_pool_resets()
    pool = QueuePool(connect, pool_size=1, max_overflow=0)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.pool")
    pool.connect().close()  # the reset on return fails
    assert all(r.exc_info is None for r in caplog.records)  # no traceback at any level
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.levelname for r in records] == ["WARNING", "INFO"]  # then "Invalidate connection"
    assert "the connection is lost" in records[0].getMessage()
    assert "\n" not in records[0].getMessage()
    assert made[0].closed  # discarded, not pooled again

    again = pool.connect()  # a fresh connection, reset on return without a word
    assert again.dbapi_connection is made[1]
    again.close()
    assert len(made) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING][1:]


def test_other_pool_records_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    quiet_pool_resets()
    quiet_pool_resets()  # once is enough: no second filter
    logger = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    assert len(logger.filters) == 1
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.pool")
    try:
        raise ConnectionError("boom")
    except ConnectionError:
        logger.error("Exception closing connection %r", "c", exc_info=True)
    (record,) = caplog.records
    assert record.levelname == "ERROR" and record.exc_info is not None
