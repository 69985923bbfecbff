"""MariaDB/MySQL: exact text and double-precision numbers (2026-12-07, issue 22, item 8).

The models said ``Float``, a double on SQLite and PostgreSQL but a 4-byte ``FLOAT`` on
MariaDB/MySQL (12.3456789 kWh read back as 12.3457, and ``kwh = 1.05`` never true), and their
tables took the server's collation, which ignores case ('cp-01' = 'CP-01'). On those servers
each table of Central becomes utf8mb4 with a binary collation and each such column ``DOUBLE``,
by way of its text, so the values stay the ones the server showed (1.05, not float32's
1.0499999523). Nothing to do on SQLite and PostgreSQL, nor on a database made whole since.

Revision ID: r0005
Revises: r0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from central_app.db import MYSQL_BACKENDS, MYSQL_TABLE

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None

TABLES = (
    "charging_points",
    "drivers",
    "sessions",
    "central_leader",
    "enrollment_tokens",
    "audit_log",
    "cp_state_changes",
)
NUMBERS = {
    "charging_points": ("x", "y", "price", "rated_kw"),
    "sessions": ("price", "kwh", "eur", "meter_kwh"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name not in MYSQL_BACKENDS:
        return
    charset, collation = MYSQL_TABLE["mysql_charset"], MYSQL_TABLE["mysql_collate"]
    collations = dict(
        bind.execute(
            sa.text(
                "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE()"
            )
        ).all()
    )
    for table in TABLES:
        if table in collations and collations[table] != collation:
            op.execute(
                f"ALTER TABLE {table} CONVERT TO CHARACTER SET {charset} COLLATE {collation}"
            )
    inspector = sa.inspect(bind)
    for table, names in NUMBERS.items():
        if table not in collations:
            continue
        for column in inspector.get_columns(table):
            if column["name"] not in names or not isinstance(column["type"], mysql.FLOAT):
                continue
            for step in (sa.String(32), sa.Double()):
                op.alter_column(
                    table,
                    column["name"],
                    type_=step,
                    existing_nullable=column["nullable"],
                    existing_server_default=column.get("default"),
                )


def downgrade() -> None:
    raise NotImplementedError("EVCharging's migrations go forward only")
