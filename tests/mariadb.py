"""A real MariaDB server for the tests (``scripts/maria-local``), one fresh database per test.

As ``tests.postgres``: the server is started once per session (per xdist worker) in a
throw-away run dir, without fsync; each test that asks gets its own database, dropped
afterwards. ``EVC_MARIADB_URL`` (a URL of a user who may create databases) reuses a running
server. The URLs are the brief's own form, ``mysql://evc:PASSWORD@127.0.0.1:PORT/NAME``, which
Central maps to PyMySQL (``central_app.db.engine_url``); anything else that builds an engine
from them goes through ``engine_url`` too.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
from sqlalchemy.engine import make_url

from tests.local_server import REPO, ScratchDatabases, started

MARIA_LOCAL = REPO / "scripts" / "maria-local"
SERVER = Path(os.environ.get("EVC_MARIADB_BIN", "/usr/sbin")) / "mariadbd"


class NotInstalled(RuntimeError):
    """MariaDB's server is not on this machine (``scripts/setup-system`` installs it)."""


class MariaServer(ScratchDatabases):
    """A running server and the URL of a user who may create databases (``run_dir``: the
    server's, when ``scripts/maria-local`` started it for the session)."""

    def __init__(self, url: str, run_dir: Path | None = None) -> None:
        self.url = make_url(url)
        self.run_dir = run_dir

    def _admin(self) -> pymysql.Connection:
        u = self.url
        return pymysql.connect(
            host=u.host,
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self) -> str:
        """A new empty database (utf8mb4, binary collation, as maria-local's); its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop it, ending first any session still in it (PostgreSQL's ``WITH (FORCE)``): a
        session left in a transaction would hold ``DROP DATABASE`` for ever."""
        name = make_url(url).database
        with self._admin() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> "
                "CONNECTION_ID()",
                (name,),
            )
            for (session,) in cur.fetchall():
                with contextlib.suppress(pymysql.MySQLError):  # it ended meanwhile
                    cur.execute(f"KILL {int(session)}")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextmanager
def session_server() -> Iterator[MariaServer]:
    """``EVC_MARIADB_URL``'s server, or one started with ``scripts/maria-local``. Raises
    :class:`NotInstalled` when there is no server to start."""
    given = os.environ.get("EVC_MARIADB_URL")
    if given:
        yield MariaServer(given)
        return
    if not SERVER.is_file():
        raise NotInstalled(
            f"MariaDB's server ({SERVER}) is not installed and could not be: scripts/setup-system "
            "(make setup) installs Debian's mariadb-server, or set EVC_MARIADB_URL"
        )
    with started("maria-local", ["--password"]) as (url, run_dir):
        yield MariaServer(url, run_dir)
