"""When each ticket's notice reached the brokers (2026-12-07, issue 21).

A Central taking office sends again the recent tickets whose notice never left (the one before
it was deposed or killed in between); ``sessions.notified_at`` says which did, so the others
are not sent to their drivers a second, third and fourth time (found by evc-chaos, seed 2027).

Revision ID: r0006
Revises: r0005
"""

from __future__ import annotations

import sqlalchemy as sa

from central_app.migrations import ops

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.add_column("sessions", sa.Column("notified_at", sa.String(32), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
