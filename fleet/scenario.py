"""One scenario for one fleet size: register N CPs from an empty database, then (optionally)
a steady phase with drivers and a restart storm, against one EV_Central child process.

The coordinator (this module, in the main process) owns the phases; monitor workers and the
Kafka process only count, tagging what they see with the phase the coordinator set.

A child that dies (or whose command raises) stops the scenario with ``ChildDied``: the
coordinator names it and quotes the last line of its log (``worker-N.log``,
``kafka-sim.log`` in the scenario's dir), collects from the others, falls back to the last
snapshot of every phase for the dead one, and the result carries ``error``.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import random
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from fleet import go_generator
from fleet.broker import free_port
from fleet.central import CENTRAL_DB_FILE, CentralProcess, Sampler
from fleet.child import ChildDied, ChildFailure, last_line
from fleet.commands import admin_command
from fleet.errors import FleetError
from fleet.kafka_sim import KafkaPhaseStats, kafka_main
from fleet.monitors import PhaseStats
from fleet.options import ScenarioOptions
from fleet.pair import Pair
from fleet.pinning import pin_process
from fleet.results import summarize
from fleet.security import KafkaAccess, Security, make_security, mode_label
from fleet.stats import mean_max
from fleet.worker import worker_main
from wire.errors import WireError
from wire.kafka.admin import ensure_topics
from wire.kafka.topics import Topics

PRE_KILL_S = 2.5
MONITORS_PER_WORKER = 2500


class Scenario:
    def __init__(
        self,
        opts: ScenarioOptions,
        bootstrap: str,
        run_dir: Path,
        sampler: Sampler,
        say: Callable[[str], None],
        kafka: KafkaAccess | None = None,
    ) -> None:
        self.o = opts
        self.bootstrap = bootstrap
        self.kafka_access = kafka or KafkaAccess()  # PLAINTEXT, or the broker's role files
        self.run_dir = run_dir
        self.sampler = sampler
        self.say = say
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[tuple[Any, Connection]] = []
        self.monitor_nice = 0  # what the monitor workers run at (_prioritize)
        self.generator_runtime: dict[str, Any] = {}  # the Go generator's version, GOMAXPROCS
        self.priority_refused: str | None = None
        self.kafka: tuple[Any, Connection] | None = None
        self.names: dict[int, tuple[str, Path]] = {}  # id(conn) -> (name, log file)
        self.procs: dict[int, Any] = {}  # id(conn) -> process
        self.seen: dict[int, dict[str, PhaseStats]] = {}  # worker -> phase -> last stats
        self.seen_registered: dict[int, tuple[int, float | None]] = {}
        self.seen_kafka: dict[str, KafkaPhaseStats] = {}
        self.security = Security()
        self.error: str | None = None
        self.central: CentralProcess | None = None
        self.pair: Pair | None = None
        self.n_workers = opts.workers or min(
            max(1, math.ceil(opts.cps / MONITORS_PER_WORKER)), os.cpu_count() or 1
        )
        if opts.generator == "go":
            self.n_workers = 1  # one Go process simulates every monitor
        self.phase = "start"
        self.phase_started = time.monotonic()
        self._last_progress = 0.0
        self._last_due = 0
        self._last_due_t = time.monotonic()
        self.marks: dict[str, float] = {}  # wall-clock moments
        self.authenticated_at: dict[str, int] = {}  # phase -> CPs authenticated as it began

    # --- plumbing ------------------------------------------------------------------------

    def _child(self, conn: Connection, proc: Any, name: str, log: Path) -> None:
        self.names[id(conn)] = (name, log)
        self.procs[id(conn)] = proc

    def _died(self, conn: Connection, what: str) -> ChildDied:
        name, log = self.names.get(id(conn), ("a fleet process", None))
        proc = self.procs.get(id(conn))
        if proc is not None:
            proc.join(2)
        reason = last_line(log) if log is not None else ""
        if not reason and proc is not None and proc.exitcode is not None:
            code = proc.exitcode
            reason = f"exit code {code}" + (
                " (SIGKILL: out of memory?)"
                if code == -9
                else f" (signal {-code})"
                if code < 0
                else ""
            )
        return ChildDied(f"{name} {what}: {reason or 'no reason logged'} (see {log})")

    def _send(self, conn: Connection, command: tuple[Any, ...]) -> None:
        try:
            conn.send(command)
        except (OSError, ValueError) as exc:
            raise self._died(conn, f"died ({exc})") from exc

    def _reply(self, conn: Connection, command: str, timeout: float) -> Any:
        try:
            if not conn.poll(timeout):
                proc = self.procs.get(id(conn))
                if proc is not None and not proc.is_alive():
                    raise self._died(conn, "died")
                name = self.names.get(id(conn), ("a fleet process",))[0]
                raise ChildDied(f"{name} did not answer {command!r} in {timeout:.0f}s")
            reply = conn.recv()
        except (EOFError, OSError) as exc:  # "got end of file during message": it died
            raise self._died(conn, "died") from exc
        if isinstance(reply, ChildFailure):
            raise self._died(conn, f"failed on {command!r} ({reply.error})")
        return reply

    def _ask(self, conn: Connection, *command: Any, timeout: float = 60.0) -> Any:
        self._send(conn, command)
        return self._reply(conn, command[0], timeout)

    def _all_workers(self, *command: Any) -> list[Any]:
        sent = []
        first: ChildDied | None = None
        for _, conn in self.workers:
            try:
                self._send(conn, command)
                sent.append(conn)
            except ChildDied as exc:
                first = first or exc
        replies = []
        for conn in sent:  # every reply is read, so no pipe is left holding a stale one
            try:
                replies.append(self._reply(conn, command[0], 60.0))
            except ChildDied as exc:
                first = first or exc
        if first is not None:
            raise first
        return replies

    def _set_phase(self, name: str, *, stale: bool = False, sample: bool = False) -> None:
        self._all_workers("phase", name, stale, sample)
        if self.kafka is not None:
            self._ask(self.kafka[1], "phase", name)
        self.phase = name
        self.phase_started = time.monotonic()
        self.marks[name] = time.time()
        self._last_due = 0
        self._last_due_t = time.monotonic()

    def _snapshot(self) -> dict[str, Any]:
        snaps = self._all_workers("snapshot")
        stats = PhaseStats()
        keys: dict[str, str] = {}
        for index, snap in enumerate(snaps):
            stats.merge(snap["stats"])
            self.seen.setdefault(index, {})[snap["phase"]] = snap["stats"]
            self.seen_registered[index] = (snap["registered"], snap["last_registered_at"])
            keys.update(snap.get("keys") or {})
        if keys and self.kafka is not None:
            self._ask(self.kafka[1], "keys", keys)
        kafka = self._ask(self.kafka[1], "snapshot") if self.kafka else None
        if kafka is not None:
            self.seen_kafka[self.phase] = kafka["stats"]
        return {
            "authenticated": sum(s["authenticated"] for s in snaps),
            "registered": sum(s["registered"] for s in snaps),
            "locked_out": sum(s["locked_out"] for s in snaps),
            "stats": stats,
            "kafka": kafka,
        }

    def _progress(self, snap: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self.o.progress_every:
            return
        self._last_progress = now
        stats: PhaseStats = snap["stats"]
        rate = (stats.hb_due - self._last_due) / max(now - self._last_due_t, 1e-3)
        self._last_due, self._last_due_t = stats.hb_due, now
        p99 = stats.latency.percentile(99)
        lag = stats.tick_lag.percentile(99)
        answered = stats.answered_pct
        sample = self.sampler.latest()
        central = sample.cpu.get("central", 0.0) if sample else 0.0
        rss = sample.rss.get("central", 0.0) if sample else 0.0
        gen = sample.cpu.get("generator", 0.0) if sample else 0.0
        monitors = sample.cpu.get("monitors", 0.0) if sample else 0.0
        kafka = snap.get("kafka") or {}
        line = (
            f"[{self.o.cps} {self.phase:<9} {now - self.phase_started:5.0f}s] "
            f"auth {snap['authenticated']}/{self.o.cps}  reg {snap['registered']}"
            f"  hb/s {rate:6.0f}  p99 {'-' if p99 is None else f'{p99 * 1000:.1f} ms'}"
            f"  answered {'-' if answered is None else f'{answered:.1f}%'}"
            f"  central {central:.0f}% {rss:.0f} MB  generator {gen:.0f}% (monitors"
            f" {monitors:.0f}%, lag p99 {'-' if lag is None else f'{lag * 1000:.0f} ms'})"
            f"  supplying {kafka.get('supplies', 0)}"
        )
        if snap["locked_out"]:
            line += f"  locked-out {snap['locked_out']}"
        self.say(line)

    # --- set-up --------------------------------------------------------------------------

    def _prepare(self) -> tuple[Topics, list[tuple[str, str, float, float]], list[str]]:
        topics = Topics(prefix=f"fleet{uuid.uuid4().hex[:8]}.")
        access = self.kafka_access
        access.grant(self.bootstrap, topics.prefix)  # a SASL_SSL broker's role ACLs
        try:  # as Central would (it checks them again), with its role
            ensure_topics(self.bootstrap, topics, timeout=30.0, security=access.security("central"))
        except WireError as exc:
            raise FleetError(f"cannot create the run's topics: {exc}") from exc
        rng = random.Random(self.o.cps)
        cps = [
            (f"FL{i:05d}", secrets.token_urlsafe(16), rng.uniform(40, 960), rng.uniform(40, 660))
            for i in range(self.o.cps)
        ]
        n_drivers = self.o.drivers or math.ceil(self.o.cps * self.o.share * 1.25) + 5
        drivers = [f"FD{i:05d}" for i in range(n_drivers)]
        return topics, cps, drivers

    def _start_central(self, topics: Topics, drivers: list[str]) -> None:
        seed = self.run_dir / "seed.json"
        seed.write_text(json.dumps({"charging_points": [], "drivers": drivers}))
        self.security = make_security(
            self.o.tls, self.o.sealed, self.kafka_access, self.run_dir / "secrets"
        )
        extra = list(self.o.central_args)
        if self.o.failover:
            self.pair = Pair(self.run_dir, self.o.db_url, self.say)
            extra += self.pair.central_args("central-a")
        self.central = CentralProcess(
            self.o.central_cmd,
            port=free_port(),
            kafka=self.bootstrap,
            prefix=topics.prefix,
            data_dir=self.run_dir / "central",
            seed=seed,
            log_path=self.run_dir / "central.log",
            pythonpath=self.o.pythonpath,
            extra=extra,
            security=self.security,
            launcher=self.o.pin.taskset(self.o.pin.central) if self.o.pin else None,
        )
        self.central.spawn()
        self.central.wait_listening(120.0)
        self.sampler.track("central", [self.central.pid or 0], tree=True)
        if self.pair is not None:
            self.pair.start_standby(self.central, self.o.central_args)

    def _start_processes(
        self, topics: Topics, cps: list[tuple[str, str, float, float]], drivers: list[str]
    ) -> None:
        assert self.central is not None
        parent, child = self.ctx.Pipe()
        options: dict[str, Any] = {"supply_seconds": self.o.supply_seconds, "share": self.o.share}
        if self.o.sealed:
            options.update(sealed=True, driver_keys=self._driver_keys())
        if self.kafka_access.secrets is not None:
            options["kafka_secrets"] = str(self.kafka_access.secrets)
        log = self.run_dir / "kafka-sim.log"
        proc = self.ctx.Process(
            target=kafka_main,
            args=(
                child,
                self.bootstrap,
                topics.prefix,
                [c[0] for c in cps],
                drivers,
                options,
                str(log),
            ),
            name="fleet-kafka",
            daemon=True,
        )
        proc.start()
        child.close()
        self._pin(proc.pid)
        self.kafka = (proc, parent)
        self._child(parent, proc, "the Kafka simulation", log)
        tokens = self._enroll([c[0] for c in cps])
        for index in range(self.n_workers):
            share = cps[index :: self.n_workers]
            options = {
                "response_timeout": self.o.response_timeout,
                "seed": index,
                "tls_ca": str(self.security.ca) if self.security.tls else None,
                "report_keys": self.o.sealed,
            }
            if tokens:
                options["tokens"] = {c[0]: tokens[c[0]] for c in share}
            name, log, (proc, parent) = self._start_monitors(index, share, options)
            self._prioritize(proc.pid)
            self.workers.append((proc, parent))
            self._child(parent, proc, name, log)
        pids = [os.getpid(), self.kafka[0].pid] + [p.pid for p, _ in self.workers]
        self.sampler.track("generator", pids)  # the whole generator: coordinator, Kafka, monitors
        self.sampler.track("monitors", [p.pid for p, _ in self.workers])
        deadline = time.monotonic() + 45
        while not self._ask(self.kafka[1], "snapshot")["ready"]:
            if time.monotonic() > deadline:
                raise FleetError("the fleet's Kafka consumers got no partitions within 45 s")
            time.sleep(0.2)

    def _start_monitors(
        self, index: int, share: list[tuple[str, str, float, float]], options: dict[str, Any]
    ) -> tuple[str, Path, tuple[Any, Any]]:
        """Monitor worker ``index`` (a Python process), or the Go generator (one process
        that also serves as its own pipe, fleet/go_generator.py): its name, log, (process,
        pipe). Pinned with the rest of the generator."""
        if self.o.generator == "go":
            log = self.run_dir / "gomon.log"
            prefix = self.o.pin.taskset(self.o.pin.rest) if self.o.pin else None
            monitors = go_generator.start(self.ports(), share, options, log, prefix)
            self.generator_runtime = monitors.runtime
            return "the Go monitor generator", log, (monitors, monitors)
        parent, child = self.ctx.Pipe()
        log = self.run_dir / f"worker-{index + 1}.log"
        proc = self.ctx.Process(
            target=worker_main,
            args=(child, self.ports(), share, options, str(log), f"worker-{index + 1}"),
            name=f"fleet-monitors-{index + 1}",
            daemon=True,
        )
        proc.start()
        child.close()
        self._pin(proc.pid)
        return f"monitor worker {index + 1}", log, (proc, parent)

    def _pin(self, pid: int | None) -> None:
        """A process of the generator onto the generator's cores (every thread of it)."""
        if self.o.pin is not None and pid:
            pin_process(pid, self.o.pin.rest)

    def _prioritize(self, pid: int | None) -> None:
        """Give a monitor worker ``monitor_nice`` (``self.monitor_nice``: what it got); a
        negative value needs root or CAP_SYS_NICE, without which it runs at 0."""
        if not self.o.monitor_nice or pid is None:
            return
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):  # every thread (the Go runtime's)
                os.setpriority(os.PRIO_PROCESS, int(tid), self.o.monitor_nice)
        except OSError as exc:
            self.priority_refused = exc.strerror or str(exc)
            return
        self.monitor_nice = self.o.monitor_nice

    def _enroll(self, cp_ids: list[str]) -> dict[str, str]:
        """The operator's one-time enrollment tokens for every CP, issued in bulk in Central's
        database before the monitors start (``evc-admin cp enroll-many``, one transaction, run
        as a process of Central's own checkout): a secured Central registers no CP without its
        token. None for a Central without TLS (``--insecure``: no token needed) or one that
        knows no bulk enrollment (an older checkout given with ``--central-cmd``)."""
        if not self.security.tls or self.central is None:
            return {}
        url = self._central_db_url()
        ids_file = self.run_dir / "enroll-ids.txt"
        tokens_file = self.run_dir / "enroll-tokens.json"
        ids_file.write_text("".join(f"{cp_id}\n" for cp_id in cp_ids))
        command = [
            *admin_command(self.o.central_cmd),
            *("--db", url, "cp", "enroll-many"),
            *("--ids-file", str(ids_file), "--tokens-file", str(tokens_file), "--expires", "24h"),
        ]
        env = dict(os.environ)
        if self.o.pythonpath:
            env["PYTHONPATH"] = self.o.pythonpath
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, cwd=self.o.pythonpath, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FleetError(f"cannot issue the CPs' enrollment tokens: {exc}") from exc
        if done.returncode == 2 and "invalid choice" in done.stderr:
            return {}  # an evc-admin from before enroll-many: a Central from before enrollment
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise FleetError(f"cannot issue the CPs' enrollment tokens: {why[0]}")
        try:
            tokens = json.loads(tokens_file.read_text())
        except (OSError, ValueError) as exc:
            raise FleetError(f"cannot read the CPs' enrollment tokens: {exc}") from exc
        finally:
            tokens_file.unlink(missing_ok=True)
        return {str(cp_id): str(token) for cp_id, token in tokens.items()}

    def _central_db_url(self) -> str:
        """Central's database: its ``--db`` (the pair's PostgreSQL), else its SQLite file."""
        args = self.central.args if self.central is not None else []
        url = args[args.index("--db") + 1] if "--db" in args[:-1] else None
        return url or f"sqlite:///{self.run_dir / 'central' / CENTRAL_DB_FILE}"

    def _driver_keys(self) -> dict[str, str]:
        """The seeded drivers' keys, from Central's database (Central issues one to every
        seeded driver; the seed file cannot carry them) — the pair's PostgreSQL too."""
        db = self._central_db_url()
        shown = make_url(db).render_as_string(hide_password=True)
        engine = create_engine(db, poolclass=NullPool)
        try:
            with engine.connect() as con:
                rows = con.execute(text("SELECT id, seal_key FROM drivers")).fetchall()
        except SQLAlchemyError as exc:
            why = str(exc).splitlines()[0]
            raise FleetError(f"cannot read the drivers' keys from {shown}: {why}") from exc
        finally:
            engine.dispose()
        keys = {driver_id: key for driver_id, key in rows if key}
        if not keys:
            raise FleetError(f"no driver has a key in {shown}: cannot seal charge requests")
        return keys

    # --- phases --------------------------------------------------------------------------

    def _register(self) -> dict[str, Any]:
        self._set_phase("register")
        began = time.time()
        self._all_workers("start", self.o.spread)
        deadline = time.monotonic() + self.o.register_timeout
        while True:
            time.sleep(0.5)
            snap = self._snapshot()
            self._progress(snap)
            if snap["authenticated"] + snap["locked_out"] >= self.o.cps:
                break
            if time.monotonic() > deadline:
                self.say(
                    f"registration time limit ({self.o.register_timeout:.0f}s): "
                    f"{snap['registered']}/{self.o.cps} registered"
                )
                break
        self._progress(snap, force=True)
        return {"began": began, "ended": time.time(), "timed_out": time.monotonic() > deadline}

    def _ramp(self) -> None:
        """The drivers start: until 90 % of the share supply (at most 20 s)."""
        assert self.kafka is not None
        snap = self._snapshot()
        target = round(self.o.share * snap["authenticated"])
        self._set_phase("ramp")
        self._ask(self.kafka[1], "drivers", True, target)
        ramp_deadline = time.monotonic() + 20.0
        while time.monotonic() < ramp_deadline:
            time.sleep(0.5)
            snap = self._snapshot()
            self._progress(snap)
            if snap["kafka"]["supplies"] >= 0.9 * target:
                break

    def _steady(self) -> None:
        self._ramp()
        self._set_phase("steady")
        self.authenticated_at["steady"] = self._snapshot()["authenticated"]
        silence_at = time.monotonic() + self.o.duration / 3.0
        end = time.monotonic() + self.o.duration
        silenced = False
        while time.monotonic() < end:
            time.sleep(0.5)
            if not silenced and time.monotonic() >= silence_at and self.o.silence:
                self._ask(self.workers[0][1], "silence", self.o.silence)
                silenced = True
            snap = self._snapshot()
            self._progress(snap)
        self._progress(self._snapshot(), force=True)

    def ports(self) -> list[int]:
        """The monitors' Central ports: one, or the pair's two (active first)."""
        assert self.central is not None
        standby = self.pair.standby if self.pair is not None else None
        return [self.central.port] + ([standby.port] if standby is not None else [])

    def _storm(self) -> dict[str, Any]:
        """SIGKILL Central with everybody authenticated; it is restarted, or, with a pair, its
        standby takes over. Measured until as many CPs are authenticated again."""
        assert self.central is not None
        self._set_phase("pre-kill")
        time.sleep(PRE_KILL_S)
        before = self._snapshot()["authenticated"]
        if self.pair is not None:
            self.pair.arm()
        killed = time.time()
        self.central.kill()
        self._set_phase("storm", stale=True, sample=True)
        if self.pair is not None:
            self.central = self.pair.promoted()
            restarted: float | None = None
        else:
            self.central.spawn()
            restarted = self.central.started_at
        self.sampler.track("central", [self.central.pid or 0], tree=True)
        what = "its standby takes over" if self.pair is not None else "restarted"
        self.say(f"[{self.o.cps} storm] Central SIGKILLed with {before} CPs authenticated; {what}")
        deadline = time.monotonic() + self.o.storm_timeout
        all_back = None
        while time.monotonic() < deadline:
            time.sleep(0.05 if restarted is None else 0.25)
            if restarted is None and self.pair is not None:
                restarted = self.pair.took_over()
                if restarted is None:
                    continue
            snap = self._snapshot()
            self._progress(snap)
            if snap["authenticated"] >= before and all_back is None:
                all_back = time.time()
                break
        self._progress(self._snapshot(), force=True)
        time.sleep(5.0)  # heartbeats of the re-authorized CPs, with everybody back
        return {
            "before": before,
            "killed": killed,
            "restarted": restarted if restarted is not None else killed,
            "all_back": all_back,
            "kind": "failover" if self.pair is not None else "restart",
        }

    # --- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        topics, cps, drivers = self._prepare()
        mode = mode_label(self.o.tls, self.o.sealed, self.kafka_access.sasl)
        self.say(
            f"[{self.o.cps}] Central: {' '.join(self.o.central_cmd)}"
            + (f" (PYTHONPATH={self.o.pythonpath})" if self.o.pythonpath else "")
            + f"; {mode}; {self._monitor_side()}, {len(drivers)} drivers,"
            + f" topics {topics.prefix}*"
        )
        registration: dict[str, Any] | None = None
        storm: dict[str, Any] | None = None
        try:
            self._start_central(topics, drivers)
            self._start_processes(topics, cps, drivers)
            if self.priority_refused:
                self.say(
                    f"[{self.o.cps}] monitor workers at normal priority: nice "
                    f"{self.o.monitor_nice} refused ({self.priority_refused}); their own lag "
                    "may show in the latencies (see the last column)"
                )
            try:
                registration = self._register()
                if self.o.steady:
                    self._steady()
                storm = self._storm() if self.o.storm else None
                self._set_phase("end")
                time.sleep(2.5)  # late answers settle into their phases
            except ChildDied as exc:
                self._failed(exc)
                if registration is None:
                    began = self.marks.get("register", time.time())
                    registration = {"began": began, "ended": time.time(), "timed_out": False}
            monitors = [self._collect_worker(conn, i) for i, (_, conn) in enumerate(self.workers)]
            kafka = self._collect_kafka()
        finally:
            self._shutdown()
        result = summarize(self, registration, storm, monitors, kafka)
        if self.error is not None:
            result["error"] = self.error
        return result

    def _monitor_side(self) -> str:
        if self.o.generator == "go":
            side = "the Go monitor generator (1 process)"
        else:
            side = f"{self.n_workers} Python monitor worker(s)"
        if self.o.pin is None:
            return side + ", not pinned"
        where = self.o.pin.describe()
        return side + f"; Central on CPU {where['central']}, the rest on CPU {where['generator']}"

    def _failed(self, exc: ChildDied) -> None:
        if self.error is None:
            self.error = str(exc)
        self.say(f"[{self.o.cps}] {exc}; reporting what was measured")

    def _collect_worker(self, conn: Connection, index: int) -> dict[str, Any]:
        try:
            return self._ask(conn, "collect")
        except ChildDied as exc:
            self._failed(exc)
        # The dead worker's last snapshots: per-phase counts and latencies, no up intervals
        # (false DISCONNECTED cannot be told for its CPs), no storm samples.
        registered, last = self.seen_registered.get(index, (0, None))
        return {
            "stats": self.seen.get(index, {}),
            "stale": PhaseStats(),
            "samples": [],
            "intervals": {},
            "silenced": {},
            "registered_at": [last] * registered if last is not None else [],
            "claim_supported": True,
        }

    def _collect_kafka(self) -> dict[str, Any] | None:
        if self.kafka is None:
            return None
        try:
            return self._ask(self.kafka[1], "collect")
        except ChildDied as exc:
            self._failed(exc)
        return {"stats": dict(self.seen_kafka), "disconnected": []}

    def _stop_child(self, proc: Any, conn: Connection, *, ask_s: float, join_s: float) -> None:
        """Ask a child process to stop (it says goodbye within ``ask_s``), give it ``join_s`` to
        exit, then kill it: a shutdown never hangs on one stuck child."""
        if proc.is_alive():
            with contextlib.suppress(FleetError, OSError, EOFError):
                self._ask(conn, "stop", timeout=ask_s)
        proc.join(join_s)
        if proc.is_alive():
            proc.kill()

    def _shutdown(self) -> None:
        for proc, conn in self.workers:
            self._stop_child(proc, conn, ask_s=10, join_s=5)
        if self.kafka is not None:
            proc, conn = self.kafka
            self._stop_child(proc, conn, ask_s=15, join_s=10)
        if self.central is not None:
            self.central.terminate()
        if self.pair is not None:
            self.pair.stop()

    # --- helpers for results -------------------------------------------------------------

    def window(self, start: str, end: str) -> tuple[float, float]:
        return self.marks.get(start, 0.0), self.marks.get(end, time.time())

    def usage(self, start: str, end: str) -> dict[str, float | None]:
        a, b = self.window(start, end)
        samples = self.sampler.between(a, b)
        out: dict[str, float | None] = {}
        for group in ("central", "generator", "monitors"):
            cpu_mean, cpu_max = mean_max([s.cpu.get(group, 0.0) for s in samples])
            out[f"{group}_cpu_mean"] = cpu_mean
            out[f"{group}_cpu_max"] = cpu_max
            rss_mean, rss_max = mean_max([s.rss.get(group, 0.0) for s in samples])
            out[f"{group}_rss_mean_mb"] = rss_mean
            out[f"{group}_rss_max_mb"] = rss_max
        return out
