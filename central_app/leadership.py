"""Which Central of a pair is active: a server session lock, and a fencing epoch.

Two ``EV_Central`` processes on the same PostgreSQL or MariaDB/MySQL database form an
active/standby pair. Nothing here is a consensus of our own; the database server decides:

- **Leadership** is a lock owned by one dedicated connection's session: PostgreSQL's
  ``pg_try_advisory_lock(LOCK_KEY)`` (per database), MariaDB's ``GET_LOCK(name, 0)`` (per
  server, so the name carries the database's: :func:`lock_name`). The server releases a
  session lock when the session ends, so a killed active (its socket closed by the kernel)
  frees it at once, and the standby, asking every ``POLL_S``, takes it.
- **A frozen or cut-off active** keeps its socket open. The lock session therefore expires
  when idle for ``LEASE_S``: PostgreSQL's ``idle_session_timeout``, MariaDB's ``wait_timeout``
  (whole seconds). The active proves it is alive with a query every ``RENEW_S`` (on MariaDB
  one that also checks the lock is still its own); silent for ``LEASE_S``, the server ends
  the session and the lock is free. The active itself gives up after ``STEP_DOWN_S``
  (< ``LEASE_S``) without a successful renewal, before anyone can take over.
- **Fencing**: on becoming active a Central increments ``central_leader.epoch`` and keeps the
  value; every transaction it commits first reads the epoch with a shared row lock (``FOR
  SHARE``; MariaDB: ``LOCK IN SHARE MODE``) and raises :class:`~central_app.db.Fenced` if it
  moved. A Central thawed after SIGSTOP, whose writer thread still holds queued jobs,
  therefore writes nothing: the epoch bump of its successor took the row lock first, or its
  check comes after and sees the new value.
- **Only a holder takes office**: the bump's transaction, holding the epoch row, asks the
  server whether this Central's lock session still holds the lock (PostgreSQL's
  ``pg_locks``, MariaDB's ``IS_USED_LOCK``) and commits only then. A Central frozen between
  taking the lock and taking office (evc-chaos, finding 11) would otherwise move the epoch
  past its successor's, fencing the live active's writes while holding no lock itself. The
  order is safe: a successor gets the lock only once this session ended, and its own bump
  waits for this transaction's row lock.

SQLite has no sessions to lose: a Central on SQLite is alone and always active.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from central_app.db import MYSQL_BACKENDS, Database, Fenced, engine_url
from central_app.store import Store

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
# The same for PyMySQL: its connect timeout, and socket timeouts on every read and write.
PYMYSQL_TIMEOUTS = {
    "connect_timeout": 3,
    "read_timeout": int(LEASE_S),
    "write_timeout": int(LEASE_S),
}
LOCK_PREFIX = "evc.pair."  # MariaDB: GET_LOCK's name, the database's appended
PAIR_BACKENDS = frozenset({"postgresql", *MYSQL_BACKENDS})


def pair_capable(url: str) -> bool:
    """True for a database that can decide leadership (PostgreSQL, MariaDB/MySQL)."""
    try:
        return engine_url(url).get_backend_name() in PAIR_BACKENDS
    except Exception:
        return False


def lock_name(database: str | None) -> str:
    """MariaDB's lock of the pair on ``database``: ``GET_LOCK`` names are the server's, not a
    database's, and at most 64 characters (a longer database name is hashed)."""
    name = LOCK_PREFIX + (database or "")
    if len(name) <= 64:
        return name
    return LOCK_PREFIX + hashlib.sha256((database or "").encode()).hexdigest()[:40]


class Leadership:
    """The lock session of one Central: ``acquire`` (standby), ``renew`` (active), ``fence``."""

    def __init__(self, url: str, central_id: str) -> None:
        self.url = url
        self.central_id = central_id
        self.epoch: int | None = None
        self.renewed_at = 0.0
        self._forfeited = False  # a fenced write said another Central took office
        target = engine_url(url)
        self._mysql = target.get_backend_name() in MYSQL_BACKENDS
        timeouts = PYMYSQL_TIMEOUTS if self._mysql else LIBPQ_TIMEOUTS
        self._engine: Engine = create_engine(target, poolclass=NullPool, connect_args=timeouts)
        self._lock_name = lock_name(target.database)
        self._session_id: int | None = None  # the lock session's backend pid / connection id
        share = "LOCK IN SHARE MODE" if self._mysql else "FOR SHARE"
        self._epoch_sql = f"SELECT epoch FROM central_leader WHERE id = 1 {share}"
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
                    if self._mysql:
                        # before the lock is ours: a frozen holder never has a session
                        # without its lease (wait_timeout counts whole seconds)
                        lease_s = math.ceil(LEASE_S)
                        self._conn.execute(text(f"SET SESSION wait_timeout = {lease_s}"))
                if self._mysql:
                    got = self._conn.execute(
                        text("SELECT GET_LOCK(:name, 0)"), {"name": self._lock_name}
                    ).scalar()
                else:
                    got = self._conn.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
                    ).scalar()
            except SQLAlchemyError as exc:
                log.debug("leadership: lock attempt failed: %s", exc)
                self._drop()
                return False
            if not got:
                return False
            if not self._mysql:
                lease_ms = int(LEASE_S * 1000)
                self._conn.execute(text(f"SET idle_session_timeout = {lease_ms}"))
            whoami = "CONNECTION_ID()" if self._mysql else "pg_backend_pid()"
            self._session_id = int(self._conn.execute(text(f"SELECT {whoami}")).scalar())
            self.renewed_at = time.monotonic()
            self._forfeited = False
            return True

    def take_office(self, db: Database) -> int:
        """Bump the epoch (the tables exist now); returns it. Call once the lock is held.
        The same term of office as a lone Central's (``Store.take_epoch``: the row locked,
        one more, or the first epoch in a new database), in SQL every backend speaks.
        Raises :class:`Fenced` when the lock session no longer holds the lock (frozen or
        cut off since ``try_acquire``): this Central is then the standby again."""
        self.epoch = Store(db).take_epoch(self.central_id, still_held=self._still_held)
        self.renewed_at = time.monotonic()
        return self.epoch

    def _still_held(self, session: Session) -> bool:
        """In the bump's transaction: does the lock session still hold the pair's lock? The
        server's answer, not ``_conn``'s (the renewal thread may not have noticed yet)."""
        if self._session_id is None or self._conn is None:
            return False
        if self._mysql:
            query = text("SELECT IS_USED_LOCK(:name) = :holder")
            held = session.execute(query, {"name": self._lock_name, "holder": self._session_id})
        else:
            # a bigint advisory key is (classid, objid) = (high, low) 32 bits, objsubid 1
            query = text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = :holder AND classid::bigint = :high AND objid::bigint = :low"
                " AND objsubid = 1 AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database()))"
            )
            key = {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}
            held = session.execute(query, {"holder": self._session_id, **key})
        return bool(held.scalar())

    # --- active ---------------------------------------------------------------------------

    def renew(self) -> bool:
        """Prove the session alive; False when it is gone (the lock with it)."""
        with self._lock:
            if self._conn is None:
                return False
            try:
                if self._mysql:
                    # the lock goes only with the session (then this fails), but asking
                    # whose it is costs no more than SELECT 1 and says so in one query
                    mine = self._conn.execute(
                        text("SELECT IS_USED_LOCK(:name) = CONNECTION_ID()"),
                        {"name": self._lock_name},
                    ).scalar()
                else:
                    mine = self._conn.execute(text("SELECT 1")).scalar()
            except SQLAlchemyError as exc:
                log.warning("leadership: the lock session is gone: %s", exc)
                self._drop()
                return False
            if not mine:
                log.warning("leadership: the lock %s is no longer this session's", self._lock_name)
                self._drop()
                return False
            self.renewed_at = time.monotonic()
            return True

    def forfeit(self) -> None:
        """Another Central raised the epoch (a write of ours was fenced): act as if the lease
        had run out, so the owner's next tick steps down, whatever the renewals say."""
        self._forfeited = True

    def holds(self, now: float) -> bool:
        """Still entitled to act: renewed within ``STEP_DOWN_S``."""
        if self._forfeited:
            return False
        return self._conn is not None and now - self.renewed_at < STEP_DOWN_S

    def fence(self, db: Database) -> None:
        """Make every transaction committed through ``db`` check the epoch first."""
        event.listen(db.engine, "commit", self._check_epoch)

    def _check_epoch(self, conn: Any) -> None:
        """Before each COMMIT, on the transaction's own DBAPI connection (the epoch row read
        with a shared lock: a successor's bump waits for this commit, or this sees the bump)."""
        dbapi_error = conn.dialect.loaded_dbapi.Error
        dbapi_connection = conn.connection.dbapi_connection
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(self._epoch_sql)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except dbapi_error as exc:
            # Raised from an event hook, the driver's error is not wrapped by SQLAlchemy: wrap
            # it as SQLAlchemy would (OperationalError for a server restarted or gone), so the
            # database writer sees an outage and retries the job instead of failing it (found
            # by evc-chaos: a PostgreSQL restart at the moment of a commit failed a write).
            # A lost connection is invalidated here, as SQLAlchemy's own disconnect handling
            # would: else the pool tries to roll it back when it is returned, and logs
            # "Exception during reset or similar" with a traceback (evc-chaos again).
            lost = conn.dialect.is_disconnect(exc, dbapi_connection, None)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self._epoch_sql,
                None,
                exc,
                dbapi_error,
                connection_invalidated=lost,
                dialect=conn.dialect,
            ) from exc
        current = row[0] if row else None
        if current != self.epoch:
            raise Fenced(
                f"this Central ({self.central_id}) was deposed: epoch {self.epoch}, "
                f"the database's is {current}"
            )

    # --- the end --------------------------------------------------------------------------

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._session_id = None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:
                log.debug("leadership: closing a dead lock session", exc_info=True)

    def close(self) -> None:
        """End the lock session (the lock is free for the other Central at once). A renewal
        stuck on a cut network holds the session's lock for at most ``tcp_user_timeout``
        (PyMySQL: ``read_timeout``); the session is then left to the process's end rather
        than waited for longer."""
        if self._lock.acquire(timeout=LEASE_S + 1):
            try:
                self._drop()
            finally:
                self._lock.release()
        self._engine.dispose()
