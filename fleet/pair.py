"""The fleet against an active/standby pair of Centrals (``evc-fleet failover``).

Both Centrals run on one PostgreSQL database (``--db``, else ``scripts/pg-local`` started in
the run dir); ``central-a`` starts first and is active, ``central-b`` waits as its standby.
The storm SIGKILLs the active; the moment the standby prints that it took over is read from
its log, and the monitors (given both ports, as EV_CP_M's ``--central H:P,H:P``) move to it.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fleet.broker import free_port
from fleet.central import CentralProcess
from fleet.errors import FleetError
from wire.timefmt import parse_ts

REPO = Path(__file__).resolve().parent.parent
PG_LOCAL = REPO / "scripts" / "pg-local"
TOOK_OVER = "took over as the active Central"
STANDING_BY = "standby: monitors refused"


class Pair:
    def __init__(self, run_dir: Path, db_url: str | None, say: Callable[[str], None]) -> None:
        self.say = say
        self.pg_dir: Path | None = None
        self.standby: CentralProcess | None = None
        self._log_seen = 0
        self._took_over: float | None = None
        self.db_url = db_url or self._start_postgres(run_dir / "postgres")

    def _pg(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(PG_LOCAL), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise FleetError(f"scripts/pg-local {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout.strip()

    def _start_postgres(self, pg_dir: Path) -> str:
        self.pg_dir = pg_dir
        self._pg("start", "--port", str(free_port()), "--run-dir", str(pg_dir))
        # the Centrals (children) find the password here, never on their command lines
        os.environ["PGPASSFILE"] = str(pg_dir / "pgpass")
        url = self._pg("url", "--run-dir", str(pg_dir))
        self.say(f"evc-fleet: PostgreSQL for the pair: {url}")
        return url

    def central_args(self, central_id: str) -> list[str]:
        return ["--db", self.db_url, "--central-id", central_id]

    def start_standby(self, active: CentralProcess, extra: list[str]) -> None:
        """``central-b``: the active's command line on its own port and log."""
        standby = copy.copy(active)
        standby.port = free_port()
        standby.log_path = active.log_path.with_name("central-b.log")
        args = list(active.args)
        args[args.index("--port") + 1] = str(standby.port)
        args[args.index("--central-id") + 1] = "central-b"
        standby.args = args
        standby.proc = None
        standby.spawn()
        deadline = time.monotonic() + 60
        while STANDING_BY not in self._log(standby):
            if standby.pid is None or time.monotonic() > deadline:
                raise FleetError(f"the standby Central did not stand by:\n{standby.log_tail()}")
            time.sleep(0.1)
        self.standby = standby

    def _log(self, proc: CentralProcess) -> str:
        try:
            return proc.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def arm(self) -> None:
        """Just before the kill: only what the standby says from now on counts."""
        assert self.standby is not None
        self._log_seen = len(self._log(self.standby))

    def promoted(self) -> CentralProcess:
        """The standby, which is to take over now that the active was killed."""
        assert self.standby is not None
        return self.standby

    def took_over(self) -> float | None:
        """Wall-clock moment the standby became active, from the time in its line
        ("took over as the active Central at <UTC>"); None: not yet."""
        standby = self.standby
        if self._took_over is None and standby is not None:
            for line in self._log(standby)[self._log_seen :].splitlines():
                if TOOK_OVER in line:
                    self._took_over = parse_ts(line.rsplit(" at ", 1)[1].strip()).timestamp()
                    break
        return self._took_over

    def stop(self) -> None:
        if self.standby is not None and self.standby.pid is not None:
            self.standby.terminate()
        if self.pg_dir is not None:
            self._pg("stop", "--run-dir", str(self.pg_dir))
