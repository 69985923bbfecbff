"""The history: each CP's state changes and the indexes of the ticket queries (2026-11-26).

Revision ID: r0003
Revises: r0002
"""

from __future__ import annotations

import sqlalchemy as sa

from central_app.migrations import ops

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_table(
        "cp_state_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.String(32)),
        sa.Column("cp_id", sa.String(64)),
        sa.Column("status", sa.String(16)),
        sa.Column("reason", sa.String(200)),
    )
    ops.create_index("ix_cp_state_changes_ts", "cp_state_changes", ["ts"])
    ops.create_index("ix_cp_state_changes_cp_ts", "cp_state_changes", ["cp_id", "ts"])
    ops.create_index("ix_sessions_status_ended", "sessions", ["status", "ended_at"])
    ops.create_index("ix_sessions_cp_status_ended", "sessions", ["cp_id", "status", "ended_at"])
    ops.create_index(
        "ix_sessions_driver_status_ended", "sessions", ["driver_id", "status", "ended_at"]
    )


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
