"""End-to-end harness: the real programs as subprocesses, the real broker, Central's database.

``Network`` starts, kills and restarts EV_Central, each CP's EV_CP_E / EV_CP_M and EV_Driver
as real processes (``python -m <module>``, the same code as the console scripts; ``procs.Proc``)
on free ports, each with its own data directory under the test's ``tmp_path`` and its own log
file (``<tmp>/logs/<name>.log``, whose tail the fixture prints when a test fails).
``observer.Observer`` reads the topics a dashboard would read (driver notices, network state,
CP events, Central's commands) from the beginning, so tests assert on what really went over
Kafka. ``Network.tickets()`` reads Central's SQLite file with plain SQL. ``LocalBroker`` is a
broker of a test's own, which it may stop and restart.

Everything waits on conditions with deadlines (``tests.waiting.wait_for``), never on sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from central_app.db import engine_url
from tests.e2e.observer import RDLOG, Observer
from tests.procs import REPO, Proc, evc_admin, free_port, port_free, port_open
from tests.waiting import wait_for
from wire.kafka.security import KafkaSecurity, with_security
from wire.kafka.topics import Topics
from wire.pki import Secrets

KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
# The simulated engines here run at --speed 20 (OCPP chargers up to 300): their energy is
# that of a charger rated power x speed, which Central must accept as physically possible.
SIMULATED_RATING = ["--rated-kw", "10000"]

__all__ = ["LocalBroker", "Network", "Observer", "Proc", "free_port"]


@dataclass
class Cp:
    cp_id: str
    engine_port: int
    engine_args: list[str]
    engine: Proc | None = None
    monitor: Proc | None = None


@dataclass
class Network:
    """Central, CPs and drivers of one test, all on ``kafka`` with ``topics``' prefix."""

    kafka: str
    topics: Topics
    tmp: Path
    central_port: int = field(default_factory=free_port)
    central: Proc | None = None
    cps: dict[str, Cp] = field(default_factory=dict)
    drivers: dict[str, Proc] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    central_args: list[str] = field(default_factory=list)
    central_module: str = "central_app.main"
    # Security on (TLS on the monitor link with these secrets) or None: --insecure everywhere.
    secrets: Secrets | None = None
    # With ``secrets``: the broker is secured too (``secure_kafka``); each program gets its
    # role's file from ``secrets`` (else EVC_KAFKA_CREDENTIALS: the PLAINTEXT session broker).
    kafka_secure: bool = False
    # Central's database URL (PostgreSQL); None: its SQLite file in the data directory.
    db_url: str | None = None
    # An active/standby pair: the two Centrals' ports (monitors get both); empty: one Central.
    pair_ports: list[int] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    @property
    def db_path(self) -> Path:
        return self.tmp / "central" / "evcentral.db"

    def _spawn(self, name: str, module: str, args: list[str], **kw: Any) -> Proc:
        proc = Proc(name, module, args, self.logs / f"{name}.log", **kw)
        self.procs.append(proc)
        return proc

    # Central ---------------------------------------------------------------------------------

    def start_central(
        self,
        *extra: str,
        stdin_pipe: bool = False,
        port: int | None = None,
        name: str = "central",
        gui: bool = False,
    ) -> Proc:
        """EV_Central on ``central_port`` (or ``port``: a pair's second one, see
        ``pair_ports``), once it listens (a standby listens too, refusing monitors); ``gui``:
        with its control center (offscreen)."""
        if extra:
            self.central_args = list(extra)
        port = self.central_port if port is None else port
        args = [
            "--port",
            str(port),
            "--kafka",
            self.kafka,
            "--host",
            "127.0.0.1",
            *self.db_args(),
            "--topic-prefix",
            self.topics.prefix,
            *([] if gui else ["--no-gui"]),
            "--status-every",
            "2",
            "--log-level",
            "WARNING",
            *self.central_security(),
            *self.kafka_args("central"),
            *SIMULATED_RATING,
            *self.central_args,
        ]
        proc = self._spawn(name, self.central_module, args, stdin_pipe=stdin_pipe)
        self.central = proc

        def listening() -> bool:
            if not proc.alive:
                raise AssertionError(f"EV_Central exited {proc.popen.returncode}:\n{proc.output()}")
            return port_open(port)

        wait_for(listening, 30, f"EV_Central listening on {port}")
        return proc

    def central_addresses(self) -> str:
        """What monitors get as ``--central``: Central, or both of a pair."""
        ports = self.pair_ports or [self.central_port]
        return ",".join(f"127.0.0.1:{port}" for port in ports)

    def db_args(self) -> list[str]:
        """Where EV_Central and evc-admin find the database."""
        given = ["--db", self.db_url] if self.db_url else []
        return ["--data-dir", str(self.tmp / "central"), *given]

    def central_security(self) -> list[str]:
        if self.secrets is None:
            return ["--insecure"]
        cert, key = self.secrets.cert("central"), self.secrets.key("central")
        return ["--tls-cert", str(cert), "--tls-key", str(key)]

    def kafka_args(self, role: str) -> list[str]:
        if self.secrets is None:
            return ["--insecure"]  # no TLS, no credentials, no sealed values
        if not self.kafka_secure:
            return []  # TLS and sealing on the session's PLAINTEXT broker
        return ["--kafka-credentials", str(self.secrets.kafka_role(role))]

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``evc-admin ARGS`` on Central's database, as the operator runs it."""
        return evc_admin(*self.db_args(), *args)

    def driver_key(self, driver_id: str) -> list[str]:
        """Secured: the driver's key file, exported from Central's database as an operator
        would (``evc-admin driver key ID --current``); Central must have started once."""
        if self.secrets is None:
            return []
        path = self.tmp / "keys" / f"driver-{driver_id}.key"
        if not path.exists():
            done = self.admin("driver", "key", driver_id, "--current", "--key-file", str(path))
            assert done.returncode == 0, f"evc-admin driver key {driver_id}: {done.stderr}"
        return ["--driver-key", str(path)]

    def enroll(self, cp_id: str, token_file: Path | None = None) -> Path:
        """The operator admits a CP: ``evc-admin cp enroll ID --token-file F`` (a one-time
        token, docs/security.md); Central must have started once. Returns F (by default
        ``<tmp>/enroll/<cp_id>.token``)."""
        path = token_file or self.tmp / "enroll" / f"{cp_id}.token"
        done = self.admin("cp", "enroll", cp_id, "--token-file", str(path))
        assert done.returncode == 0, f"evc-admin cp enroll {cp_id}: {done.stderr}"
        return path

    def enroll_args(self, cp_id: str) -> list[str]:
        """Secured, for a monitor that has no credential yet: a token issued for it, as
        ``--enroll-token @FILE`` (what ``make run`` does too); else nothing."""
        if self.secrets is None or (self.tmp / "credentials" / f"{cp_id}.cred").exists():
            return []
        return ["--enroll-token", f"@{self.enroll(cp_id)}"]

    def curve_args(self) -> list[str]:
        """Secured: the engine link's CURVE keys, a folder per test (engines and monitors create
        their own keys there); else nothing (``--insecure`` is plain ZeroMQ)."""
        return [] if self.secrets is None else ["--curve-dir", str(self.tmp / "curve")]

    def monitor_security(self) -> list[str]:
        if self.secrets is None:
            return ["--insecure"]
        return ["--central-ca", str(self.secrets.ca_cert)]

    # charging points -------------------------------------------------------------------------

    def add_cp(self, cp_id: str, *engine_args: str) -> Cp:
        cp = Cp(cp_id, free_port(), list(engine_args))
        self.cps[cp_id] = cp
        return cp

    def start_engine(self, cp_id: str) -> Proc:
        cp = self.cps[cp_id]
        args = [
            "--kafka",
            self.kafka,
            "--port",
            str(cp.engine_port),
            "--bind",
            "127.0.0.1",
            "--topic-prefix",
            self.topics.prefix,
            "--journal-dir",
            str(self.tmp / "journal"),
            "--no-gui",
            *self.kafka_args("engine"),
            *self.curve_args(),
            *cp.engine_args,
        ]
        # a terminal on stdin: the console then prints its messages and reads technician keys
        cp.engine = self._spawn(f"engine-{cp_id}", "cp_node.engine_main", args, tty=True)
        return cp.engine

    def start_monitor(self, cp_id: str, *extra: str, enroll: bool = True) -> Proc:
        """EV_CP_M for ``cp_id``; ``enroll``: with an enrollment token when it needs one
        (``enroll_args``); ``extra``: more options."""
        cp = self.cps[cp_id]
        args = [
            "--engine",
            f"127.0.0.1:{cp.engine_port}",
            "--central",
            self.central_addresses(),
            "--cp-id",
            cp_id,
            "--location",
            f"E2E street {cp_id}",
            "--credentials-dir",
            str(self.tmp / "credentials"),
            "--no-gui",
            *self.monitor_security(),
            *self.curve_args(),
            *(self.enroll_args(cp_id) if enroll else []),
            *extra,
        ]
        cp.monitor = self._spawn(f"monitor-{cp_id}", "cp_node.monitor_main", args)
        return cp.monitor

    def start_cp(self, cp_id: str, *engine_args: str) -> Cp:
        """Engine first, then its monitor once the engine listens (a monitor that starts
        first reports the engine UNREACHABLE: the CP flickers BROKEN, rightly)."""
        self.add_cp(cp_id, *engine_args)
        engine = self.start_engine(cp_id)
        engine.wait_line("Engine listening for its monitor", 20)
        self.start_monitor(cp_id)
        return self.cps[cp_id]

    def wait_cp_ready(self, observer: Observer, cp_id: str, timeout: float = 30) -> None:
        """ACTIVE on the network state, with the monitor authenticated and its engine OK.

        If the monitor once found its engine unreachable (a slow start), the CP was BROKEN
        for a moment: then only a state published after the engine turned OK counts."""
        monitor = self.cps[cp_id].monitor
        assert monitor is not None
        monitor.wait_line("Engine OK at", timeout)
        monitor.wait_line("authenticated", timeout)
        ok_at = max(at for at, line in monitor.lines if "Engine OK at" in line)
        flickered = monitor.has("Engine UNREACHABLE") or monitor.has("Engine KO")
        wait_for(
            lambda: (
                observer.status(cp_id) == "ACTIVE"
                and (not flickered or observer.events("cp_state", since=ok_at, cp_id=cp_id))
            ),
            timeout,
            f"{cp_id} ACTIVE with its engine OK (now {observer.status(cp_id)})",
        )

    def start_supplies(
        self, observer: Observer, plans: dict[str, list[str]], cp_args: list[str]
    ) -> dict[str, Proc]:
        """Central, the plans' CPs (``cp_args``) and one driver per plan running its file;
        returns once every driver's first supply is under way."""
        self.start_central()
        cp_ids = sorted({cp_id for cps in plans.values() for cp_id in cps})
        for cp_id in cp_ids:
            self.start_cp(cp_id, *cp_args)
        for cp_id in cp_ids:
            self.wait_cp_ready(observer, cp_id)
        drivers = {d: self.start_driver(d, cps, pause=0.5) for d, cps in plans.items()}
        for driver in plans:
            wait_for(
                lambda d=driver: observer.notices("supply_progress", driver_id=d),
                30,
                f"{driver} supplying",
            )
        return drivers

    def supplying(self, observer: Observer, driver: str, cp_id: str) -> str:
        """``driver`` (started without a file) asks for ``cp_id``; returns the session id
        once the supply reports progress."""
        self.drivers[driver].send_line(cp_id)
        auth = observer.wait("authorized", 20, driver_id=driver, cp_id=cp_id)
        wait_for(
            lambda: observer.notices("supply_progress", session_id=auth.session_id),
            20,
            f"progress of {driver} at {cp_id}",
        )
        return auth.session_id

    def assert_ticketed_once(self, observer: Observer, plans: dict[str, list[str]]) -> list[dict]:
        """Every plan's supplies finished, each with one ticket in the database, one
        ``supply_ended`` and gap-free ``supply_progress`` on the wire, one ticket notice;
        returns the tickets."""
        for driver, cps in plans.items():
            proc = self.drivers[driver]
            summary = f"ran all {len(cps)} entries — {len(cps)} finished;"
            assert summary in proc.output(), proc.output()
            db = self.tickets(driver_id=driver)
            history = self.driver_history(driver)
            assert len(db) == len(cps) == len(history), (db, history)
            assert {t["session_id"] for t in db} == {h["session_id"] for h in history}
        tickets = self.tickets()
        for ticket in tickets:
            session = ticket["session_id"]
            ended = wait_for(
                lambda s=session: observer.cp_events("supply_ended", session_id=s),
                15,
                f"the observer reading supply_ended of {session}",
            )
            assert len(ended) == 1, ended  # not lost, not duplicated on the wire
            assert (ticket["kwh"], ticket["reason"]) == (ended[0].kwh, "unplugged")
            seqs = [p.seq for p in observer.cp_events("supply_progress", session_id=session)]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        ticketed = {t["session_id"] for t in tickets}
        assert len(ticketed) == len(tickets) == sum(len(cps) for cps in plans.values())
        observer.wait_one_ticket_each(ticketed, 15)
        return tickets

    # drivers ---------------------------------------------------------------------------------

    def start_driver(
        self,
        driver_id: str,
        services: list[str] | None = None,
        *extra: str,
        pause: float = 0.3,
        name: str | None = None,
    ) -> Proc:
        """With ``services`` a file of those CP ids is run; without, stdin stays open for
        ``send_line(cp_id)`` requests."""
        data_dir = self.tmp / f"driver-{driver_id}"
        args = [
            "--kafka",
            self.kafka,
            "--driver-id",
            driver_id,
            "--data-dir",
            str(data_dir),
            "--topic-prefix",
            self.topics.prefix,
            "--pause",
            str(pause),
            "--no-gui",
            *self.kafka_args("driver"),
            *self.driver_key(driver_id),
            *extra,
        ]
        if services is not None:
            path = self.tmp / f"services-{driver_id}.txt"
            path.write_text(f"# e2e requests of {driver_id}\n" + "\n".join(services) + "\n")
            args += ["--services", str(path)]
        proc = self._spawn(
            name or f"driver-{driver_id}",
            "driver_app.main",
            args,
            stdin_pipe=services is None,
        )
        self.drivers[driver_id] = proc
        return proc

    def driver_history(self, driver_id: str) -> list[dict]:
        path = self.tmp / f"driver-{driver_id}" / "tickets.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # Central's database ----------------------------------------------------------------------

    def sessions(self, where: str = "1=1", params: tuple = ()) -> list[dict]:
        if self.db_url:
            return self._sessions_at_url(where, params)
        if not self.db_path.exists():
            return []
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(f"SELECT * FROM sessions WHERE {where}", params).fetchall()
        return [dict(row) for row in rows]

    def _sessions_at_url(self, where: str, params: tuple) -> list[dict]:
        assert self.db_url is not None
        engine = create_engine(engine_url(self.db_url), poolclass=NullPool)  # mysql://: PyMySQL
        query = text(f"SELECT * FROM sessions WHERE {where.replace('?', ':p')}")
        try:
            with engine.connect() as conn:
                rows = conn.execute(query, {"p": params[0]} if params else {}).mappings()
                return [dict(row) for row in rows]
        except ProgrammingError:  # Central has not created its tables yet
            return []
        finally:
            engine.dispose()

    def tickets(self, **match: object) -> list[dict]:
        rows = self.sessions("status = 'ticketed'")
        return [r for r in rows if all(r.get(k) == v for k, v in match.items())]

    def wait_ticket(self, session_id: str, timeout: float) -> dict:
        found = wait_for(
            lambda: self.tickets(session_id=session_id), timeout, f"ticket of {session_id} in DB"
        )
        return found[0]

    # the end ---------------------------------------------------------------------------------

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.stdin is not None:  # EOF first: no thread left blocked on stdin
                with contextlib.suppress(OSError):
                    proc.popen.stdin.close()
            if proc.alive:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            proc.close()

    def tracebacks(self) -> list[str]:
        return [p.name for p in self.procs if "Traceback" in p.output()]


def free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are all free (a cluster's brokers)."""
    for _ in range(50):
        first = free_port()
        if all(port_free(first + i) for i in range(1, count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


class LocalBroker:
    """A broker of this test's own (``scripts/kafka-local``), which it may stop and restart;
    with ``brokers=3`` a cluster on three consecutive ports, whose nodes it may kill."""

    def __init__(self, run_dir: Path, secrets: Secrets | None = None, brokers: int = 1) -> None:
        self.run_dir = run_dir
        self.secrets = secrets  # secured (SASL_SSL, users, ACLs) with these, or PLAINTEXT
        self.brokers = brokers
        self.port = free_ports(brokers)
        self.bootstrap = ",".join(f"127.0.0.1:{self.port + i}" for i in range(brokers))

    def security(self, role: str) -> KafkaSecurity | None:
        return (
            None if self.secrets is None else KafkaSecurity.from_file(self.secrets.kafka_role(role))
        )

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), *args, "--run-dir", str(self.run_dir)],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if done.returncode != 0:
            raise AssertionError(f"kafka-local {args[0]} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        """Start the broker, or the cluster's nodes that are not running."""
        mode = ["--insecure"] if self.secrets is None else ["--secrets", str(self.secrets.root)]
        self._run("start", "--port", str(self.port), "--brokers", str(self.brokers), *mode)

    def start_node(self, node_id: int) -> None:
        """Bring back one node of the cluster (the others as they are)."""
        mode = ["--insecure"] if self.secrets is None else ["--secrets", str(self.secrets.root)]
        port = ["--port", str(self.port), "--brokers", str(self.brokers)]
        self._run("start", *port, "--node", str(node_id), *mode)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node of the cluster (no controlled shutdown: a crashed host)."""
        pid = int((self.run_dir / f"node-{node_id}" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, f"node {node_id}")

    def warm_up(self, topic: str, timeout: float = 30.0) -> None:
        """Wait until consumer groups work (``__consumer_offsets`` created and loaded).

        On a brand-new broker the first OffsetFetch can fail with NOT_COORDINATOR; once an
        engine's command consumer was seen never to receive its commands after that (see the
        e2e report), so the test network starts only on a broker ready for groups."""
        consumer = Consumer(
            with_security(
                {
                    "bootstrap.servers": self.bootstrap,
                    "group.id": "e2e-warm-up",
                    "logger": RDLOG,
                    "error_cb": lambda err: None,
                },
                self.security("admin"),
            )
        )
        try:

            def fetched() -> bool:
                try:
                    consumer.committed([TopicPartition(topic, 0)], timeout=2)
                except KafkaException:
                    return False
                return True

            wait_for(fetched, timeout, "the new broker's group coordinator")
        finally:
            consumer.close()

    def stop(self, now: bool = False) -> None:
        """Stop every node; ``now``: SIGKILL, for the teardown of a throwaway broker."""
        self._run("stop", *(["--now"] if now else []))
