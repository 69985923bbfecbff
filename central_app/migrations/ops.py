"""Idempotent schema steps for the revisions (see the package docstring for why)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_app.db import MYSQL_TABLE


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def has_table(name: str) -> bool:
    return _inspector().has_table(name)


def add_column(table: str, column: sa.Column) -> None:  # type: ignore[type-arg]
    if column.name not in {c["name"] for c in _inspector().get_columns(table)}:
        op.add_column(table, column)


def create_index(name: str, table: str, columns: list[str], *, unique: bool = False) -> None:
    if name not in {i["name"] for i in _inspector().get_indexes(table)}:
        op.create_index(name, table, columns, unique=unique)


def create_table(name: str, *columns: sa.schema.SchemaItem) -> None:
    if not has_table(name):
        op.create_table(name, *columns, **MYSQL_TABLE)
