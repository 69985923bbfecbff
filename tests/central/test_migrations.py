"""Issue 22, item 7: schema migrations with Alembic instead of ad-hoc added columns.

A database made by the first release (2026-11-21, ab1d838: four tables, no keys, no claims)
is upgraded in place with its rows intact; an empty one is created whole and stamped; a
database from a newer EVCharging is refused with words; ``evc-admin db current|upgrade``.
Each on SQLite, PostgreSQL and MariaDB (``db_url``), where r0005 also makes the first
release's single-precision FLOATs and case-blind collation exact."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from central_app import admin
from central_app.db import (
    DatabaseError,
    engine_url,
    head_revision,
    open_database,
    schema_revision,
)
from central_app.store import Store

# On MariaDB the first release's tables took the server's default collation, utf8mb4_general_ci
# on Debian's (case-blind), and its Float columns were 4-byte FLOATs.
OLD_MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_general_ci"}


def _first_release(url: str) -> None:
    """The first release's tables exactly as its models made them, and some rows."""
    meta = sa.MetaData()
    sa.Table(
        "charging_points",
        meta,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("location", sa.String(200)),
        sa.Column("x", sa.Float, nullable=True),
        sa.Column("y", sa.Float, nullable=True),
        sa.Column("price", sa.Float),
        sa.Column("credential_hash", sa.String(200), nullable=True),
        sa.Column("admin_state", sa.String(16)),
        sa.Column("created", sa.String(32)),
        **OLD_MARIADB,
    )
    sa.Table(
        "drivers",
        meta,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.String(32)),
        **OLD_MARIADB,
    )
    sa.Table(
        "sessions",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), unique=True),
        sa.Column("request_id", sa.String(64), nullable=True, index=True),
        sa.Column("driver_id", sa.String(64), index=True),
        sa.Column("cp_id", sa.String(64), index=True),
        sa.Column("origin", sa.String(8)),
        sa.Column("price", sa.Float, nullable=True),
        sa.Column("authorized_at", sa.String(32), nullable=True),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("started_at", sa.String(32), nullable=True),
        sa.Column("ended_at", sa.String(32), nullable=True),
        sa.Column("kwh", sa.Float, nullable=True),
        sa.Column("eur", sa.Float, nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), index=True),
        sa.Column("ticketed_at", sa.String(32), nullable=True),
        **OLD_MARIADB,
    )
    sa.Table(
        "audit_log",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.String(32), index=True),
        sa.Column("who", sa.String(100)),
        sa.Column("action", sa.String(64)),
        sa.Column("detail", sa.Text),
        **OLD_MARIADB,
    )
    engine = sa.create_engine(engine_url(url))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO charging_points VALUES "
            "('CP-01', 'Harbour', 10, 20, 0.42, 'sha256$x$y', 'ACTIVE', '2026-11-21T10:00:00.000Z')"
        )
        conn.exec_driver_sql("INSERT INTO drivers VALUES ('D-001', '2026-11-21T10:00:00.000Z')")
        conn.exec_driver_sql(
            "INSERT INTO sessions (session_id, driver_id, cp_id, origin, price, authorized_at, "
            "started_at, ended_at, kwh, eur, reason, status, ticketed_at) VALUES ('s-old', "
            "'D-001', 'CP-01', 'app', 0.42, '2026-11-21T10:01:00.000Z', "
            "'2026-11-21T10:01:05.000Z', '2026-11-21T10:20:00.000Z', 2.5, 1.05, 'unplugged', "
            "'ticketed', '2026-11-21T10:20:00.100Z')"
        )
    engine.dispose()


def test_a_first_release_database_is_upgraded_with_its_rows(db_url: str) -> None:
    url = db_url
    _first_release(url)
    db = open_database(url)
    assert schema_revision(db) == head_revision()
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("sessions")}
    assert {"flag", "provisional", "amended_from", "meter_kwh"} <= columns
    assert {"enrollment_tokens", "central_leader", "cp_state_changes"} <= set(
        sa.inspect(db.engine).get_table_names()
    )
    store = Store(db)
    (ticket,) = store.tickets("s-old")
    assert (ticket.kwh, ticket.eur, ticket.reason) == (2.5, 1.05, "unplugged")
    record = store.get_cp("CP-01")
    assert record is not None and record.price == 0.42 and record.seal_key is None
    # the new features work on it: a key for a driver, an enrollment token, an epoch
    assert store.driver_key("D-001", "t")
    token, _ = store.issue_enrollment("CP-02", "t")
    assert store.register_cp(
        "CP-02", "", None, None, default_price=0.3, who="t", token=token, require_token=True
    )
    assert store.take_epoch("central") >= 1
    # exact numbers and ids (r0005 on MariaDB): a double's digits, and 'd-001' is not 'D-001'
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sessions SET kwh = 12.3456789 WHERE session_id = 's-old'")
    assert store.tickets("s-old")[0].kwh == 12.3456789
    store.add_driver("d-001", who="t")
    assert {"D-001", "d-001"} <= set(store.list_drivers())
    assert open_database(url) and schema_revision(db) == head_revision()  # idempotent


def test_an_empty_database_is_created_whole_and_stamped(db_url: str) -> None:
    db = open_database(db_url)
    assert schema_revision(db) == head_revision()


def test_a_database_from_a_newer_version_is_refused(db_url: str) -> None:
    url = db_url
    db = open_database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(DatabaseError, match="'r9999', which this version of EVCharging does not"):
        open_database(url)


def test_evc_admin_db_current_and_upgrade(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'first.db'}"
    _first_release(url)
    assert admin.main(["--db", url, "db", "current"]) == 0
    assert "schema from before migrations" in capsys.readouterr().out
    assert admin.main(["--db", url, "db", "upgrade"]) == 0
    assert f"schema {head_revision()} (upgraded from before migrations)" in capsys.readouterr().out
    assert admin.main(["--db", url, "db", "upgrade"]) == 0
    assert "(already the newest)" in capsys.readouterr().out
