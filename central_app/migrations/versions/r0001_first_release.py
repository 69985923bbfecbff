"""The first release's schema (2026-11-21): charging points, drivers, sessions, audit log.

Revision ID: r0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa

from central_app.migrations import ops

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sa.Double where the first release said sa.Float: the same double on SQLite and
    # PostgreSQL, and no single-precision FLOAT on MariaDB/MySQL (r0005)
    ops.create_table(
        "charging_points",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("location", sa.String(200)),
        sa.Column("x", sa.Double, nullable=True),
        sa.Column("y", sa.Double, nullable=True),
        sa.Column("price", sa.Double),
        sa.Column("credential_hash", sa.String(200), nullable=True),
        sa.Column("admin_state", sa.String(16)),
        sa.Column("created", sa.String(32)),
    )
    ops.create_table(
        "drivers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.String(32)),
    )
    ops.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), unique=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("driver_id", sa.String(64)),
        sa.Column("cp_id", sa.String(64)),
        sa.Column("origin", sa.String(8)),
        sa.Column("price", sa.Double, nullable=True),
        sa.Column("authorized_at", sa.String(32), nullable=True),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("started_at", sa.String(32), nullable=True),
        sa.Column("ended_at", sa.String(32), nullable=True),
        sa.Column("kwh", sa.Double, nullable=True),
        sa.Column("eur", sa.Double, nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16)),
        sa.Column("ticketed_at", sa.String(32), nullable=True),
    )
    for column in ("request_id", "driver_id", "cp_id", "status"):
        ops.create_index(f"ix_sessions_{column}", "sessions", [column])
    ops.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.String(32)),
        sa.Column("who", sa.String(100)),
        sa.Column("action", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    ops.create_index("ix_audit_log_ts", "audit_log", ["ts"])


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
