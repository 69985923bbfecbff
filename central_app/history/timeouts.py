"""Read-only connections that give up: the control center's history must never hang on a
locked, slow or unreachable database.

Central's own engine waits for as long as an outage lasts (its writer retries); the GUI's
reads get a second engine on the same URL with each backend's limits
(:func:`timed_engine`):

* SQLite: the busy timeout (how long to wait for a lock) and a progress handler that
  interrupts a statement running past the limit; the connection is ``query_only``;
* PostgreSQL (psycopg): ``connect_timeout`` and ``options='-c statement_timeout=…'``, so the
  server itself cancels a query past the limit;
* MariaDB/MySQL (PyMySQL): ``connect_timeout`` and ``read_timeout``/``write_timeout`` on the
  socket, and MariaDB's ``max_statement_time`` so the server stops the query too.

:func:`describe_failure` turns what the drivers raise into one line for the operator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from central_app.db import MYSQL_BACKENDS

SQLITE_PROGRESS_STEPS = 20_000  # VM instructions between deadline checks (~a millisecond)


@dataclass(frozen=True)
class ReadTimeouts:
    """Seconds: to connect, and for one statement (locks waited for included)."""

    connect_s: float = 5.0
    statement_s: float = 15.0


GUI_TIMEOUTS = ReadTimeouts()


def _sqlite_limits(engine: Engine, limits: ReadTimeouts) -> None:
    busy_ms = max(1, round(limits.statement_s * 1000))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()
        deadline = [math.inf]  # set before each statement (below), read by the handler
        record.info["deadline"] = deadline
        dbapi_connection.set_progress_handler(
            lambda: time.monotonic() > deadline[0], SQLITE_PROGRESS_STEPS
        )

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn, _cursor, _statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        deadline = conn.connection.info.get("deadline")
        if deadline is not None:
            deadline[0] = time.monotonic() + limits.statement_s


def timed_engine(url: URL, limits: ReadTimeouts = GUI_TIMEOUTS) -> Engine:
    """An engine for interactive reads on ``url`` (an engine's URL, driver resolved) whose
    connections give up after ``limits`` instead of waiting."""
    backend = url.get_backend_name()
    connect_s = max(1, math.ceil(limits.connect_s))
    statement_ms = max(1, round(limits.statement_s * 1000))
    args: dict[str, Any] = {}
    if backend == "sqlite":
        args = {"timeout": limits.statement_s, "check_same_thread": False}
    elif backend == "postgresql":
        args = {"connect_timeout": connect_s, "options": f"-c statement_timeout={statement_ms}"}
    elif backend in MYSQL_BACKENDS:
        socket_s = max(1, math.ceil(limits.statement_s))
        args = {"connect_timeout": connect_s, "read_timeout": socket_s, "write_timeout": socket_s}
    engine = create_engine(
        url, connect_args=args, pool_pre_ping=backend != "sqlite", pool_timeout=limits.connect_s
    )
    if backend == "sqlite":
        _sqlite_limits(engine, limits)
    elif backend in MYSQL_BACKENDS:
        _mariadb_statement_limit(engine, limits)
    return engine


def _mariadb_statement_limit(engine: Engine, limits: ReadTimeouts) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        try:  # MariaDB only (MySQL calls it max_execution_time): the socket limit remains
            cursor.execute(f"SET SESSION max_statement_time={limits.statement_s:.3f}")
        except Exception:  # noqa: BLE001 (a MySQL server: its read_timeout still applies)
            dbapi_connection.rollback()
        finally:
            cursor.close()


_TIMEOUT_SIGNS = (
    "interrupted",  # SQLite: the progress handler stopped the statement
    "statement timeout",  # PostgreSQL: canceling statement due to statement timeout
    "max_statement_time",  # MariaDB: Query execution was interrupted (max_statement_time)
    "timed out",  # PyMySQL's socket, psycopg's connect
    "timeout expired",
    "lost connection",  # PyMySQL after its read_timeout
)


def describe_failure(exc: BaseException, limits: ReadTimeouts = GUI_TIMEOUTS) -> str:
    """One line for the operator (no traceback, no SQL): what went wrong reading the history."""
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    lowered = first.lower()
    if "connect" in lowered and ("timeout" in lowered or "timed out" in lowered):
        return f"the database server did not accept a connection within {limits.connect_s:g} s"
    if "refused" in lowered or "could not connect" in lowered or "can't connect" in lowered:
        return f"cannot reach the database server ({first[:120]})"
    if "locked" in lowered or "busy" in lowered:
        return (
            f"the database stayed locked for {limits.statement_s:g} s (another program is "
            "writing to it)"
        )
    if any(sign in lowered for sign in _TIMEOUT_SIGNS):
        return f"the database did not answer within {limits.statement_s:g} s"
    if isinstance(exc, SQLAlchemyError) and not isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {first[:160]}"
    return f"the database refused the query: {first[:160]}"
