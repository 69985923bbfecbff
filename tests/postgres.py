"""A real PostgreSQL server for the tests (``scripts/pg-local``), one fresh database per test.

The server is started once per session in a throw-away run dir (without fsync: nothing in
it outlives the session); each test that asks gets its own database, dropped afterwards, so
tests never see each other's rows. ``EVC_PG_URL`` (a superuser URL) reuses a running server.
The URLs carry no password: ``PGPASSFILE`` names the server's password file for the session,
so the programs the tests start connect without one on their command lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
PG_LOCAL = REPO / "scripts" / "pg-local"


class PgServer:
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
    def database(self) -> Iterator[str]:
        url = self.create_database()
        try:
            yield url
        finally:
            self.drop_database(url)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def session_server() -> Iterator[PgServer]:
    """``EVC_PG_URL``'s server, or one started with ``scripts/pg-local`` for the session."""
    given = os.environ.get("EVC_PG_URL")
    if given:
        yield PgServer(given)
        return
    # under /tmp, not pytest's tmp_path: when the tests run as root the server runs as the
    # user postgres, which cannot enter root's private pytest directories
    base = Path(tempfile.mkdtemp(prefix="evc-pg-"))
    base.chmod(0o755)
    run_dir = base / "run"
    pg = [sys.executable, str(PG_LOCAL)]
    where = ["--run-dir", str(run_dir)]
    try:
        started = subprocess.run(
            [*pg, "start", "--port", str(free_port()), "--no-fsync", *where],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if started.returncode != 0:
            raise RuntimeError(f"scripts/pg-local start failed:\n{started.stdout}{started.stderr}")
        url = subprocess.run(
            [*pg, "url", "--database", "postgres", *where],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        before = os.environ.get("PGPASSFILE")
        os.environ["PGPASSFILE"] = str(run_dir / "pgpass")
        try:
            yield PgServer(url)
        finally:
            if before is None:
                os.environ.pop("PGPASSFILE", None)
            else:
                os.environ["PGPASSFILE"] = before
    finally:
        subprocess.run([*pg, "stop", *where], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
