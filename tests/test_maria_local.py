"""``scripts/maria-local`` as the session's server shows it: the URL it prints by default
carries no password (a client option file holds it) and opens Central's database; run as
root, the server runs as the user ``mysql``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from central_app.db import head_revision, open_database, schema_revision
from tests.mariadb import MARIA_LOCAL

pytestmark = pytest.mark.process  # runs scripts/maria-local


def _maria_local(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MARIA_LOCAL), *args, "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_printed_url_opens_centrals_database_without_a_password(maria_server) -> None:  # type: ignore[no-untyped-def]
    run_dir = maria_server.run_dir
    if run_dir is None:
        pytest.skip("EVC_MARIADB_URL's server was not started by scripts/maria-local")
    status = _maria_local(run_dir, "status")
    assert status.returncode == 0 and "running on 127.0.0.1:" in status.stdout, status
    url = _maria_local(run_dir, "url").stdout.strip()
    parsed = make_url(url)
    assert parsed.drivername == "mysql" and parsed.password is None, url
    assert parsed.query["read_default_file"] == str(run_dir / "client.cnf")
    assert (run_dir / "client.cnf").stat().st_mode & 0o077 == 0
    db = open_database(url)
    try:
        assert schema_revision(db) == head_revision()
    finally:
        db.dispose()
    if os.geteuid() == 0:  # mariadbd refuses root: it was handed to the user mysql
        pid = int((run_dir / "mysqld.pid").read_text().split()[0])
        uid = Path(f"/proc/{pid}").stat().st_uid
        assert uid != 0 and (run_dir / "data").stat().st_uid == uid
