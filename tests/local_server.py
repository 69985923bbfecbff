"""A throw-away database server started by one of the repository's ``scripts/*-local``.

``scripts/pg-local`` and ``scripts/maria-local`` take the same commands (``start --port
--no-fsync --run-dir``, ``url``, ``stop``), so the tests start either one the same way: once
per session, in a run dir under /tmp, without fsync (nothing in it outlives the session),
stopped and removed afterwards. ``tests.postgres`` and ``tests.mariadb`` add what differs:
how to create and drop a database, and the URL's form.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.procs import free_port

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def started(script: str, url_args: list[str]) -> Iterator[tuple[str, Path]]:
    """Start ``scripts/<script>`` on a free port; the URL it prints (``url`` with
    ``url_args``) and its run dir, until the block ends."""
    # under /tmp, not pytest's tmp_path: when the tests run as root the server runs as its
    # own user (postgres, mysql), which cannot enter root's private pytest directories (and a
    # Unix socket's path must stay short)
    base = Path(tempfile.mkdtemp(prefix=f"evc-{script}-"))
    base.chmod(0o755)
    run_dir = base / "run"
    command = [sys.executable, str(REPO / "scripts" / script)]
    where = ["--run-dir", str(run_dir)]
    try:
        start = subprocess.run(
            [*command, "start", "--port", str(free_port()), "--no-fsync", *where],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if start.returncode != 0:
            raise RuntimeError(f"scripts/{script} start failed:\n{start.stdout}{start.stderr}")
        url = subprocess.run(
            [*command, "url", *url_args, *where],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        yield url, run_dir
    finally:
        subprocess.run([*command, "stop", *where], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


class ScratchDatabases:
    """A server on which each test gets a database of its own (``create_database`` and
    ``drop_database`` are the server's)."""

    def create_database(self) -> str:
        raise NotImplementedError

    def drop_database(self, url: str) -> None:
        raise NotImplementedError

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh empty database's URL, dropped when the block ends."""
        url = self.create_database()
        try:
            yield url
        finally:
            self.drop_database(url)
