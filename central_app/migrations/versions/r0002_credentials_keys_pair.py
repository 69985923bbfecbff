"""Retry-safe registration (claim), sealed Kafka values (CP and driver keys), revocation,
and the active/standby pair's fencing row (2026-11-26).

Revision ID: r0002
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa

from central_app.migrations import ops

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.add_column("charging_points", sa.Column("claim_hash", sa.String(200), nullable=True))
    ops.add_column("charging_points", sa.Column("seal_key", sa.String(64), nullable=True))
    ops.add_column("charging_points", sa.Column("revoked_at", sa.String(32), nullable=True))
    ops.add_column("drivers", sa.Column("seal_key", sa.String(64), nullable=True))
    ops.create_table(
        "central_leader",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("epoch", sa.Integer),
        sa.Column("holder", sa.String(200)),
        sa.Column("since", sa.String(32)),
    )


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
