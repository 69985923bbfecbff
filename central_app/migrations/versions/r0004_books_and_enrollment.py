"""Plausible energy (rated power, flags), provisional and amended tickets, the meter's final
reading for reconciliation, and the operator's enrollment tokens (2026-12-07, issues 19, 21).

Revision ID: r0004
Revises: r0003
"""

from __future__ import annotations

import sqlalchemy as sa

from central_app.migrations import ops

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sa.Double (it said sa.Float): no single-precision FLOAT on MariaDB/MySQL (r0005)
    ops.add_column("charging_points", sa.Column("rated_kw", sa.Double, nullable=True))
    ops.add_column("sessions", sa.Column("flag", sa.String(200), nullable=True))
    ops.add_column("sessions", sa.Column("provisional", sa.Boolean, nullable=True))
    ops.add_column("sessions", sa.Column("amended_from", sa.String(200), nullable=True))
    ops.add_column("sessions", sa.Column("meter_kwh", sa.Double, nullable=True))
    ops.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cp_id", sa.String(64)),
        sa.Column("token_hash", sa.String(200)),
        sa.Column("created_at", sa.String(32)),
        sa.Column("expires_at", sa.String(32)),
        sa.Column("used_at", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(100)),
    )
    ops.create_index("ix_enrollment_tokens_cp_id", "enrollment_tokens", ["cp_id"])


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
