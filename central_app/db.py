"""Central's database: SQLAlchemy 2 typed models, one engine and sessionmaker per process.

Any SQLAlchemy URL works (``sqlite:///…`` by default, ``postgresql+psycopg://…``,
MariaDB/MySQL as ``mysql://user:pass@host/db``): the models use only portable types and the
code issues no dialect-specific SQL (the pair's lock in ``central_app.leadership`` aside).
Timestamps are stored as the wire's UTC text (``2026-11-21T22:30:00.123Z``), which sorts
correctly and round-trips exactly everywhere; numbers are ``Double`` (MySQL's ``FLOAT`` is
single precision). SQLite gets WAL and a busy timeout so ``evc-admin`` can write while
Central runs. On MariaDB/MySQL (:func:`engine_url`): the PyMySQL driver, utf8mb4 on the
connection, tables in utf8mb4 with a binary collation (ids compare case-sensitively, as on
SQLite and PostgreSQL) and READ COMMITTED transactions, PostgreSQL's default.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    URL,
    Boolean,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from central_app.pool_log import quiet_pool_resets
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(".run") / "central"
DB_FILE = "evcentral.db"


class DatabaseError(Exception):
    """The database URL is unusable or the database cannot be reached (message is for users)."""


class Fenced(DatabaseError):
    """A write by a Central that is no longer the active one (its epoch was superseded):
    refused, never retried; that Central steps down."""


#: MariaDB/MySQL tables (ignored elsewhere): 4-byte UTF-8, and a binary collation, so ids and
#: statuses compare exactly (a server's default collation ignores case: 'cp-01' = 'CP-01').
MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})
#: ``mysql://`` and ``mariadb://`` (no driver named, the brief's form) mean PyMySQL.
MYSQL_DRIVER = "mysql+pymysql"


class Base(DeclarativeBase):
    pass


class ChargingPointRow(Base):
    __tablename__ = "charging_points"
    __table_args__ = MYSQL_TABLE

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    x: Mapped[float | None] = mapped_column(Double, nullable=True)
    y: Mapped[float | None] = mapped_column(Double, nullable=True)
    price: Mapped[float] = mapped_column(Double)
    credential_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Set while a registration is pending (credential issued, never used in an AUTH): a
    # REGISTER retry with the same claim gets a fresh credential (see store.register_cp).
    claim_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    admin_state: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    created: Mapped[str] = mapped_column(String(32), default=now_ts)
    # The CP's AES-256-GCM key for its Kafka values (docs/security.md), issued at REGISTER;
    # Central needs the key itself (symmetric), so it is stored as issued.
    seal_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # When the operator revoked the CP's credential and key; cleared by the next REGISTER.
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The charger's rated power: Central bills no energy beyond it (central_app.energy_check);
    # None: Central's --rated-kw.
    rated_kw: Mapped[float | None] = mapped_column(Double, nullable=True)


class DriverRow(Base):
    __tablename__ = "drivers"
    __table_args__ = MYSQL_TABLE

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[str] = mapped_column(String(32), default=now_ts)
    # The driver's AES-256-GCM key (docs/security.md), issued by evc-admin or the seed.
    seal_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SessionRow(Base):
    """One authorization; when it ends with a supply it carries the ticket (status ticketed)."""

    __tablename__ = "sessions"
    __table_args__ = MYSQL_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    driver_id: Mapped[str] = mapped_column(String(64), index=True)
    cp_id: Mapped[str] = mapped_column(String(64), index=True)
    origin: Mapped[str] = mapped_column(String(8), default="app")
    price: Mapped[float | None] = mapped_column(Double, nullable=True)
    authorized_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ended_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kwh: Mapped[float | None] = mapped_column(Double, nullable=True)
    eur: Mapped[float | None] = mapped_column(Double, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # authorized, supplying, ticketed, expired, rejected, cancelled
    status: Mapped[str] = mapped_column(String(16), index=True)
    ticketed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Why the ticket is not the engine's final reading (an implausible reading was refused
    # and the last plausible one billed): for the operator (evc-admin sessions --flagged).
    flag: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # True while the ticket is Central's inference (the last known reading of a supply whose
    # end the engine never reported in time): the engine's own final reading amends it.
    provisional: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # What an amended ticket said before the engine's reading replaced it ("0.123 kWh, ...").
    amended_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The engine's final reading as it reported it (every supply_ended Central accepted, late
    # or duplicate ones too): what reconciliation (central_app/reconcile.py) checks tickets
    # against.
    meter_kwh: Mapped[float | None] = mapped_column(Double, nullable=True)
    # When the brokers acknowledged the driver's ticket notice (the amended one, once
    # amended); NULL until then: a Central taking office sends again only those (evc-chaos)
    notified_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


#: 2020-01-01T00:00:00Z: epochs count seconds from here, so they fit PostgreSQL's INTEGER.
EPOCH_ORIGIN = 1_577_836_800


def first_epoch() -> int:
    """The epoch of a database's first term of office: the seconds since 2020 at that moment,
    the one time a clock is read, so a *new* database still numbers commands above an old
    one's (central_app.sealing); every later term adds one, whatever the clocks say."""
    return max(1, int(time.time()) - EPOCH_ORIGIN)


class LeaderRow(Base):
    """The fencing token of an active/standby pair (``central_app.leadership``): one row,
    whose ``epoch`` grows each time a Central becomes active. Every transaction of the active
    checks it, so a deposed active (frozen, partitioned) cannot write after its successor."""

    __tablename__ = "central_leader"
    __table_args__ = MYSQL_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[str] = mapped_column(String(32), default=now_ts)


class EnrollmentTokenRow(Base):
    """A one-time token the operator issued for one CP id (``evc-admin cp enroll``): the only
    way a new id, a seeded one without a credential, or a revoked one obtains a credential
    from a secured Central. Stored hashed like a credential; used once; expires."""

    __tablename__ = "enrollment_tokens"
    __table_args__ = MYSQL_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cp_id: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(32), default=now_ts)
    expires_at: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100), default="operator")


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = MYSQL_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(String(32), default=now_ts, index=True)
    who: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


class CpStateChangeRow(Base):
    """One actual change of a CP's status as Central derived it (not one per heartbeat):
    the history behind availability, fault counts and the network's states over time.
    Written in batches by the writer thread; a CP's status at time t is its newest row
    at or before t."""

    __tablename__ = "cp_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(String(32), index=True)
    cp_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_cp_state_changes_cp_ts", "cp_id", "ts"), MYSQL_TABLE)


# The history queries (central_app.history) filter tickets by end time, alone or per CP or
# driver, and sort by it: without these a filter over 100,000 sessions scans the table.
# Two equality columns before ``ended_at`` make the planner prefer the CP or driver index to
# the status one even without statistics (SQLite has none unless ANALYZE ran).
HISTORY_INDEXES = (
    Index("ix_sessions_status_ended", SessionRow.status, SessionRow.ended_at),
    Index("ix_sessions_cp_status_ended", SessionRow.cp_id, SessionRow.status, SessionRow.ended_at),
    Index(
        "ix_sessions_driver_status_ended",
        SessionRow.driver_id,
        SessionRow.status,
        SessionRow.ended_at,
    ),
)

OPEN_STATUSES = ("authorized", "supplying")


@dataclass(frozen=True)
class Database:
    url: str
    engine: Engine
    Session: sessionmaker

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def default_url(data_dir: Path | str | None = None) -> str:
    directory = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    return f"sqlite:///{directory / DB_FILE}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    # WAL + NORMAL: durable across process crashes (SIGKILL), one fsync per checkpoint
    # instead of per commit; only an OS crash/power loss may drop the latest commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def engine_url(url: str | URL) -> URL:
    """The URL an engine is built from: ``mysql://`` and ``mariadb://`` (no driver named, as
    in ``EV_Central --db "mysql://user:pass@host/db"``) go to PyMySQL, the driver EVCharging
    installs, and a MariaDB/MySQL connection speaks utf8mb4 unless the URL says otherwise.
    Raises ``ArgumentError`` for an unparseable URL."""
    parsed = make_url(url)
    if parsed.drivername in MYSQL_BACKENDS:
        parsed = parsed.set(drivername=MYSQL_DRIVER)
    if parsed.get_backend_name() in MYSQL_BACKENDS and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def mask_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _alembic(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic())


def head_revision() -> str:
    """The newest schema revision this version of EVCharging knows."""
    head = _script().get_current_head()
    assert head is not None
    return head


def schema_revision(db: Database) -> str | None:
    """The database's schema revision (None: made before migrations existed, or empty)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> str | None:
    """Bring the schema to :func:`head_revision` (central_app.migrations): an empty database
    is created whole and stamped; one from before migrations runs every revision (each adds
    only what is missing); a newer one is refused. Returns where it started from when it
    changed anything (a revision, "before migrations", "an empty database"), else None."""
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = head_revision()
        if current == head:
            return None
        if current is not None:
            try:
                known = _script().get_revision(current)
            except CommandError:
                known = None
            if known is None:
                raise DatabaseError(
                    f"the database's schema is at revision {current!r}, which this version of "
                    f"EVCharging does not know (its newest is {head!r}): it was upgraded by a "
                    "newer EVCharging; run that version, or a database of this one"
                )
        if current is None and not inspect(conn).get_table_names():
            Base.metadata.create_all(conn)
            MigrationContext.configure(conn).stamp(_script(), head)
            return "an empty database"
        # made before migrations (no revision): every revision runs, adding what is missing
        command.upgrade(_alembic(conn), "head")
        log.info("database upgraded from %s to %s", current or "before migrations", head)
        return current or "before migrations"


def open_database(url: str, *, create: bool = True) -> Database:
    """Build the engine, check the connection and create missing tables.

    Raises :class:`DatabaseError` with a message fit for the user on a bad URL, a missing
    driver or an unreachable server.
    """
    quiet_pool_resets()  # a restarted server's dead connection: one line, no traceback
    try:
        target = engine_url(url)
        options: dict[str, Any] = {}
        if target.get_backend_name() in MYSQL_BACKENDS:
            # PostgreSQL's isolation: InnoDB's REPEATABLE READ adds gap locks, on which
            # concurrent guarded ticket INSERTs deadlock, and reads from a snapshot
            options["isolation_level"] = "READ COMMITTED"
        # A server connection may have died since it was pooled; a SQLite file's cannot, and
        # pinging it costs Central's writer a query per write (hundreds a second at 10,000 CPs).
        engine = create_engine(
            target, pool_pre_ping=target.get_backend_name() != "sqlite", **options
        )
    except NoSuchModuleError as exc:
        raise DatabaseError(
            f"database URL {mask_url(url)!r} names an unknown dialect/driver: {exc}"
        ) from exc
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(f"database URL {mask_url(url)!r} is not valid: {exc}") from exc
    except ImportError as exc:
        raise DatabaseError(f"the driver for {mask_url(url)!r} is not installed: {exc}") from exc
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the data directory for {database}: {exc}"
                ) from exc
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if create:
            migrate(engine)
        else:
            inspect(engine).get_table_names()
    except SQLAlchemyError as exc:
        safe = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(
            f"cannot open the database {safe}: {exc.__class__.__name__}: {exc}"
        ) from exc
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False))
