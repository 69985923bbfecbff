"""Alembic's environment: always given a connection by ``central_app.db`` (never a URL from
an ini file), so migrations run inside the caller's transaction."""

from __future__ import annotations

from alembic import context

from central_app.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
