"""The network under test, as the campaign handles it: named components to signal and restart.

The launching is ``scripts/run_network.py``'s (``Network``, loaded from its path): its
``--ha`` layout is the one under test — three brokers, PostgreSQL, the Central pair, the CPs'
engines and monitors, EV_OCPP with simulated chargers, drivers running services files. This
module only adds what a campaign needs on top:

- each component by name (``central-a``, ``broker-2``, ``postgres``, ``engine-CP-01``,
  ``monitor-CP-01``, ``ocpp-gateway``, ``ocpp-OCPP-01``, ``driver-D-001``) with its processes,
  the ports it listens on (for partitions) and its log;
- a restart that is what its supervisor would do: a program is started again with the very
  command line ``Network.spawn`` gave it, a broker with ``kafka-local start --node N``,
  PostgreSQL with ``pg-local start``;
- every process placed in its own cgroup (``chaos.host.Cgroups``) as it starts;
- services files long enough for the campaign (``Network`` writes 10+ requests per driver).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from chaos.host import Cgroups, descendants, pid_alive
from chaos.schedule import Component

ROOT = Path(__file__).resolve().parents[1]
RUN_NETWORK = ROOT / "scripts" / "run_network.py"


def load_run_network() -> ModuleType:
    """``scripts/run_network.py`` as a module (it is a script, not part of a package)."""
    name = "evc_run_network"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, RUN_NETWORK)
    if spec is None or spec.loader is None:
        raise SystemExit(f"evc-chaos: cannot load {RUN_NETWORK}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Layout:
    """The size and the ports of the network (``make run``'s defaults are 9092, 7070, 5600,
    9000, 5433 and 8443: the campaign's are elsewhere)."""

    run_dir: Path
    cps: int = 8
    ocpp_cps: int = 2
    drivers: int = 4
    speed: float = 10.0
    kafka_port: int = 24092
    central_port: int = 24070
    engine_base_port: int = 24600
    ocpp_port: int = 24000
    pg_port: int = 24433
    web_port: int = 24443

    def argv(self) -> list[str]:
        return [
            "--ha",
            "--no-gui",
            "--run-dir",
            str(self.run_dir),
            "--cps",
            str(self.cps),
            "--ocpp-cps",
            str(self.ocpp_cps),
            "--drivers",
            str(self.drivers),
            "--speed",
            str(self.speed),
            "--kafka-port",
            str(self.kafka_port),
            "--central-port",
            str(self.central_port),
            "--engine-base-port",
            str(self.engine_base_port),
            "--ocpp-port",
            str(self.ocpp_port),
            "--pg-port",
            str(self.pg_port),
            "--web-port",
            str(self.web_port),
        ]


def components(layout: Layout, module: ModuleType | None = None) -> list[Component]:
    """The components of ``layout`` by name and kind (what the schedule draws from)."""
    module = module or load_run_network()
    out = [Component("central-a", "central"), Component("central-b", "central")]
    out += [Component(f"broker-{n}", "broker") for n in (1, 2, 3)]
    out.append(Component("postgres", "postgres"))
    for cp in module.cp_specs(layout.cps):
        out.append(Component(f"engine-{cp['id']}", "engine"))
        out.append(Component(f"monitor-{cp['id']}", "monitor"))
    if layout.ocpp_cps:
        out.append(Component("ocpp-gateway", "gateway"))
        out += [Component(f"ocpp-{c['id']}", "charger") for c in module.ocpp_specs(layout.ocpp_cps)]
    out += [Component(f"driver-D-{i + 1:03d}", "driver") for i in range(layout.drivers)]
    return out


def cp_ids(layout: Layout, module: ModuleType | None = None) -> list[str]:
    module = module or load_run_network()
    return [cp["id"] for cp in module.cp_specs(layout.cps) + module.ocpp_specs(layout.ocpp_cps)]


class Managed:
    """One component of the running network."""

    name: str
    kind: str
    ports: list[int]
    log: Path

    def pids(self) -> list[int]:
        raise NotImplementedError

    def alive(self) -> bool:
        return bool(self.pids())

    def exit_code(self) -> int | None:
        """How it ended when it is not running (None while it runs, or when unknown)."""
        return None

    def restart(self) -> str:
        """Start it again; a short note of what was done."""
        raise NotImplementedError


class Program(Managed):
    """A program ``Network.spawn`` started; restarted with the same command line."""

    def __init__(self, child: Any, kind: str, ports: list[int], cgroups: Cgroups) -> None:
        self.child = child  # run_network.Child: name, process, log
        self.name = child.name
        self.kind = kind
        self.ports = ports
        self.log = child.log
        self.cgroups = cgroups
        self.started_at = time.monotonic()  # (re)started: the quiet period lets it start

    def pids(self) -> list[int]:
        process = self.child.process
        return [process.pid] if process.poll() is None and pid_alive(process.pid) else []

    def exit_code(self) -> int | None:
        return self.child.process.poll()

    def wait_gone(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.process.wait(timeout)

    def restart(self) -> str:
        argv = list(self.child.process.args)
        with self.log.open("ab") as handle:
            handle.write(f"----- evc-chaos: restarted at {time.strftime('%H:%M:%S')}\n".encode())
            handle.flush()
            process = load_run_network().launch(argv, handle)
        self.child.process = process  # Network.stop() stops the new one
        self.started_at = time.monotonic()
        self.cgroups.place(self.name, [process.pid])
        return f"restarted as pid {process.pid}"


class Broker(Managed):
    """One node of the three-broker cluster (``kafka-local``)."""

    def __init__(self, node: int, broker_run: Path, kafka_port: int, cgroups: Cgroups) -> None:
        self.node = node
        self.name = f"broker-{node}"
        self.kind = "broker"
        self.broker_run = broker_run
        self.node_dir = broker_run / f"node-{node}"
        self.kafka_port = kafka_port
        self.log = self.node_dir / "broker.log"
        self.cgroups = cgroups
        try:
            ctrl = json.loads((broker_run / "cluster.json").read_text())["controller_ports"]
            self.ports = [kafka_port + node - 1, int(ctrl[node - 1])]
        except (OSError, ValueError, KeyError, IndexError):
            self.ports = [kafka_port + node - 1]

    def pids(self) -> list[int]:
        try:
            pid = int((self.node_dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return []
        return [pid] if pid_alive(pid) else []

    def restart(self) -> str:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "kafka-local"), "start"]
            + ["--node", str(self.node), "--port", str(self.kafka_port)]
            + ["--run-dir", str(self.broker_run)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        self.cgroups.place(self.name, self.pids())
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            return f"RESTART FAILED (kafka-local exit {done.returncode}: {tail[0]})"
        return f"restarted (up after {time.monotonic() - started:.1f} s)"


class Postgres(Managed):
    """The PostgreSQL server of the pair (``pg-local``): the postmaster and its backends."""

    def __init__(self, pg_dir: Path, port: int, cgroups: Cgroups) -> None:
        self.name = "postgres"
        self.kind = "postgres"
        self.pg_dir = pg_dir
        self.port = port
        self.ports = [port]
        self.log = pg_dir / "postgres.log"
        self.cgroups = cgroups

    def postmaster(self) -> int | None:
        try:
            pid = int((self.pg_dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def pids(self) -> list[int]:
        placed = [p for p in self.cgroups.pids(self.name) if pid_alive(p)]
        if placed:
            return placed
        master = self.postmaster()
        return [master, *descendants(master)] if master is not None else []

    def place(self) -> None:
        master = self.postmaster()
        if master is not None:
            self.cgroups.place(self.name, [master, *descendants(master)])

    def _pg_local(self, command: str) -> subprocess.CompletedProcess[str]:
        where = ["--run-dir", str(self.pg_dir)]
        port = ["--port", str(self.port)] if command == "start" else []
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "pg-local"), command, *port, *where],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def stop_clean(self) -> str:
        done = self._pg_local("stop")
        return "stopped (fast shutdown)" if done.returncode == 0 else f"stop failed: {done.stderr}"

    def restart(self) -> str:
        started = time.monotonic()
        for attempt in range(1, 6):
            # after a SIGKILL the old backends may hold the shared memory for a moment
            done = self._pg_local("start")
            if done.returncode == 0:
                self.place()
                return f"started (up after {time.monotonic() - started:.1f} s, try {attempt})"
            time.sleep(1.0)
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return f"RESTART FAILED ({tail[0]})"


class RunningNetwork:
    """``run_network.Network`` started in the HA layout, with its components by name."""

    def __init__(self, layout: Layout, cgroups: Cgroups, services_lines: int) -> None:
        self.layout = layout
        self.module = load_run_network()
        self.cgroups = cgroups
        args = self.module.parse_args(layout.argv())
        self.net = self.module.Network(args)
        self._spawn = self.net.spawn
        self.net.spawn = self._spawn_placed  # each program into its own cgroup
        self._services_lines = services_lines
        self.by_name: dict[str, Managed] = {}

    @property
    def broker_run(self) -> Path:
        return Path(self.net.broker_dir[1])

    @property
    def bootstrap(self) -> str:
        return self.net.bootstrap

    @property
    def db_url(self) -> str:
        return self.net.db_url

    def broker_data_dirs(self) -> dict[str, Path]:
        return {f"broker-{n}": self.broker_run / f"node-{n}" / "data" for n in (1, 2, 3)}

    def _spawn_placed(self, name: str, argv: list[str]) -> None:
        self._spawn(name, argv)
        self.cgroups.place(name, [self.net.children[-1].process.pid])

    def _long_services(self, count: int, cp_ids: list[str], out_dir: Path) -> list[Path]:
        files = self._original_services(count, cp_ids, out_dir)
        for path in files:
            lines = path.read_text().splitlines()
            head = [line for line in lines if line.startswith("#")]
            body = [line for line in lines if line and not line.startswith("#")]
            if body:
                body = (body * (self._services_lines // len(body) + 1))[: self._services_lines]
                path.write_text("\n".join(head + body) + "\n")
        return files

    def start(self) -> None:
        self._original_services = self.module.service_files
        self.module.service_files = self._long_services
        try:
            self.net.start()
        finally:
            self.module.service_files = self._original_services
        layout = self.layout
        cps = self.module.cp_specs(layout.cps)
        engine_ports = {
            f"engine-{cp['id']}": layout.engine_base_port + i for i, cp in enumerate(cps)
        }
        for child in self.net.children:
            ports: list[int] = []
            kind = child.name.split("-", 1)[0]
            if child.name.startswith("central-"):
                kind = "central"
                ports = [layout.central_port + "ab".index(child.name[-1])]
            elif child.name == "ocpp-gateway":
                kind, ports = "gateway", [layout.ocpp_port]
            elif child.name.startswith("ocpp-"):
                kind = "charger"
            elif child.name in engine_ports:
                ports = [engine_ports[child.name]]
            self.by_name[child.name] = Program(child, kind, ports, self.cgroups)
        for node in (1, 2, 3):
            broker = Broker(node, self.broker_run, layout.kafka_port, self.cgroups)
            self.cgroups.place(broker.name, broker.pids())
            self.by_name[broker.name] = broker
        postgres = Postgres(self.net.pg_dir, layout.pg_port, self.cgroups)
        postgres.place()
        self.by_name["postgres"] = postgres

    def stop(self) -> None:
        self.net.stop()

    def port_names(self) -> dict[int, str]:
        """Listening port -> what listens there (for telling a process's connections apart)."""
        kinds = {"broker": "Kafka", "postgres": "PostgreSQL", "central": "Central"}
        return {
            port: kinds.get(m.kind, m.name) for m in self.by_name.values() for port in m.ports[:1]
        }

    def __getitem__(self, name: str) -> Managed:
        return self.by_name[name]

    def programs(self, kind: str | None = None) -> list[Managed]:
        return [m for m in self.by_name.values() if kind is None or m.kind == kind]
