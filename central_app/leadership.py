"""Which Central of a pair is active: a PostgreSQL session advisory lock, and a fencing epoch.

Two ``EV_Central`` processes on the same PostgreSQL database form an active/standby pair.
Nothing here is a consensus of our own; PostgreSQL decides:

- **Leadership** is ``pg_try_advisory_lock(LOCK_KEY)`` on one dedicated connection. The
  server releases a session lock when the session ends, so a killed active (its socket closed
  by the kernel) frees it at once, and the standby, asking every ``POLL_S``, takes it.
- **A frozen or cut-off active** keeps its socket open. The lock session therefore runs with
  ``idle_session_timeout = LEASE_S``: the active proves it is alive with a query every
  ``RENEW_S``; silent for ``LEASE_S``, the server ends the session and the lock is free. The
  active itself gives up after ``STEP_DOWN_S`` (< ``LEASE_S``) without a successful renewal,
  before anyone can take over.
- **Fencing**: on becoming active a Central increments ``central_leader.epoch`` and keeps the
  value; every transaction it commits first reads the epoch ``FOR SHARE`` and raises
  :class:`~central_app.db.Fenced` if it moved. A Central thawed after SIGSTOP, whose writer
  thread still holds queued jobs, therefore writes nothing: the epoch bump of its successor
  took the row lock first, or its check comes after and sees the new value.

SQLite has no sessions to lose: a Central on SQLite is alone and always active.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from central_app.db import Database, Fenced, first_epoch
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

LOCK_KEY = 0x45564331  # "EVC1": the pair's advisory lock
POLL_S = 0.3  # a standby asks for the lock this often
RENEW_S = 0.5  # the active proves it is alive this often
LEASE_S = 3.0  # silent this long, the server ends the active's session (and frees the lock)
STEP_DOWN_S = 2.0  # the active gives up this long after its last renewal, before LEASE_S
# The lock session over a network that drops packets (a partition) must fail in seconds, not
# after TCP's retransmission timeout (minutes): libpq's connect, keepalive and user timeouts.
LIBPQ_TIMEOUTS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": int(LEASE_S * 1000),
}


def pair_capable(url: str) -> bool:
    """True for a database that can decide leadership (PostgreSQL)."""
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except Exception:
        return False


class Leadership:
    """The lock session of one Central: ``acquire`` (standby), ``renew`` (active), ``fence``."""

    def __init__(self, url: str, central_id: str) -> None:
        self.url = url
        self.central_id = central_id
        self.epoch: int | None = None
        self.renewed_at = 0.0
        self._engine: Engine = create_engine(url, poolclass=NullPool, connect_args=LIBPQ_TIMEOUTS)
        self._conn: Any = None
        self._lock = threading.Lock()

    # --- standby --------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """One attempt to take the lock (never blocks long); True once held."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT"
                    )
                got = self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
                ).scalar()
            except SQLAlchemyError as exc:
                log.debug("leadership: lock attempt failed: %s", exc)
                self._drop()
                return False
            if not got:
                return False
            lease_ms = int(LEASE_S * 1000)
            self._conn.execute(text(f"SET idle_session_timeout = {lease_ms}"))
            self.renewed_at = time.monotonic()
            return True

    def take_office(self, db: Database) -> int:
        """Bump the epoch (the tables exist now); returns it. Call once the lock is held."""
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO central_leader (id, epoch, holder, since) "
                    "VALUES (1, :first, '', :now) ON CONFLICT (id) DO NOTHING"
                ),
                {"now": now_ts(), "first": first_epoch() - 1},
            )
            epoch = conn.execute(
                text(
                    "UPDATE central_leader SET epoch = epoch + 1, holder = :holder, since = :now "
                    "WHERE id = 1 RETURNING epoch"
                ),
                {"holder": self.central_id, "now": now_ts()},
            ).scalar_one()
        self.epoch = int(epoch)
        self.renewed_at = time.monotonic()
        return self.epoch

    # --- active ---------------------------------------------------------------------------

    def renew(self) -> bool:
        """Prove the session alive; False when it is gone (the lock with it)."""
        with self._lock:
            if self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                log.warning("leadership: the lock session is gone: %s", exc)
                self._drop()
                return False
            self.renewed_at = time.monotonic()
            return True

    def holds(self, now: float) -> bool:
        """Still entitled to act: renewed within ``STEP_DOWN_S``."""
        return self._conn is not None and now - self.renewed_at < STEP_DOWN_S

    def fence(self, db: Database) -> None:
        """Make every transaction committed through ``db`` check the epoch first."""
        event.listen(db.engine, "commit", self._check_epoch)

    def _check_epoch(self, conn: Any) -> None:
        """Before each COMMIT, on the transaction's own DBAPI connection (the epoch row read
        FOR SHARE: a successor's bump waits for this commit, or this sees the bump)."""
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute("SELECT epoch FROM central_leader WHERE id = 1 FOR SHARE")
            row = cursor.fetchone()
        finally:
            cursor.close()
        current = row[0] if row else None
        if current != self.epoch:
            raise Fenced(
                f"this Central ({self.central_id}) was deposed: epoch {self.epoch}, "
                f"the database's is {current}"
            )

    # --- the end --------------------------------------------------------------------------

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:
                log.debug("leadership: closing a dead lock session", exc_info=True)

    def close(self) -> None:
        """End the lock session (the lock is free for the other Central at once). A renewal
        stuck on a cut network holds the session's lock for at most ``tcp_user_timeout``; the
        session is then left to the process's end rather than waited for longer."""
        if self._lock.acquire(timeout=LEASE_S + 1):
            try:
                self._drop()
            finally:
                self._lock.release()
        self._engine.dispose()
