"""A real PostgreSQL server for the tests (``scripts/pg-local``), one fresh database per test.

The server is started once per session in a throw-away run dir (without fsync: nothing in
it outlives the session); each test that asks gets its own database, dropped afterwards, so
tests never see each other's rows. ``EVC_PG_URL`` (a superuser URL) reuses a running server.
The URLs carry no password: ``PGPASSFILE`` names the server's password file for the session,
so the programs the tests start connect without one on their command lines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from tests.local_server import ScratchDatabases, started


class PgServer(ScratchDatabases):
    """A running server and the superuser URL to reach it."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)

    def _admin(self) -> psycopg.Connection:
        u = self.url
        return psycopg.connect(
            host=u.host,
            port=u.port,
            user=u.username,
            password=u.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def session_server() -> Iterator[PgServer]:
    """``EVC_PG_URL``'s server, or one started with ``scripts/pg-local`` for the session."""
    given = os.environ.get("EVC_PG_URL")
    if given:
        yield PgServer(given)
        return
    with started("pg-local", ["--database", "postgres"]) as (url, run_dir):
        before = os.environ.get("PGPASSFILE")
        os.environ["PGPASSFILE"] = str(run_dir / "pgpass")
        try:
            yield PgServer(url)
        finally:
            if before is None:
                os.environ.pop("PGPASSFILE", None)
            else:
                os.environ["PGPASSFILE"] = before
