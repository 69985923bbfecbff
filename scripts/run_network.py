#!/usr/bin/env python3
"""Run a complete demo network on this machine: broker, Central, CPs and drivers.

`make run` calls this. Every component is a real process with its own log file under
``.run/network/logs``; Ctrl+C (or SIGTERM) stops them all, the broker last. Without a display
every program runs headless and this script prints one summary line per second, read from
the same Kafka topics a dashboard would use.

``--ha`` runs the highly available layout (docs/deploy.md): a three-broker Kafka cluster
(``kafka-local --brokers 3``), PostgreSQL (``scripts/pg-local``, data in the run folder) and an
active/standby pair of Centrals on it (``central-a`` on ``--central-port``, ``central-b`` on the
next port); the monitors get both addresses. Kill ``central-a`` (its pid is printed at start)
and watch ``central-b`` take over.

Secured (the default), a CP joins Central only with the operator's one-time enrollment token
(docs/security.md): for every CP and OCPP charger that has no credential yet, this script
issues one in Central's database before starting its monitor (``Store.issue_enrollments``,
what ``evc-admin cp enroll`` does) and hands it over as a 0600 file, ``--enroll-token @FILE``
(EV_OCPP: ``--enroll-tokens DIR``). ``--insecure`` needs none.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from central_app.energy_check import DEFAULT_RATED_KW
from cp_node.engine_state import EngineConfig

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KAFKA_LOCAL = ROOT / "scripts" / "kafka-local"
PG_LOCAL = ROOT / "scripts" / "pg-local"


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path


def launch(argv: list[str], log: IO[bytes]) -> subprocess.Popen:
    """Start one program of the network (also evc-chaos's restarts): its output to its log,
    no stdin, in its own session so that stopping it signals the whole process group."""
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        start_new_session=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an EVCharging demo network.")
    parser.add_argument("--cps", type=int, default=5, help="charging points (default 5)")
    parser.add_argument(
        "--ocpp-cps",
        type=int,
        default=0,
        help="simulated OCPP chargers behind an EV_OCPP gateway (default 0)",
    )
    parser.add_argument(
        "--ocpp-version",
        choices=["1.6", "2.0.1"],
        default="1.6",
        help="the OCPP version the simulated chargers speak: 1.6 (1.6J, default) or 2.0.1",
    )
    parser.add_argument(
        "--ocpp-connectors",
        type=int,
        choices=range(1, 10),
        default=1,
        metavar="N",
        help="connectors of each simulated OCPP charger, each a CP at Central (OCPP-01-1 … "
        "OCPP-01-N when N ≥ 2; default 1: the CP OCPP-01)",
    )
    parser.add_argument("--ocpp-port", type=int, default=9000, help="EV_OCPP's WebSocket port")
    parser.add_argument(
        "--ocpp-profile",
        type=int,
        choices=[1, 2, 3],
        default=1,
        help="OCPP security profile between EV_OCPP and the simulated chargers: 1 ws:// and "
        "passwords (default), 2 wss:// (the secrets directory's ocpp.pem) and passwords, "
        "3 wss:// and client certificates from the CA (evc-admin ocpp cert)",
    )
    parser.add_argument(
        "--ocpp-tls",
        dest="ocpp_profile",
        action="store_const",
        const=2,
        help="the same as --ocpp-profile 2",
    )
    parser.add_argument("--drivers", type=int, default=2, help="drivers (default 2)")
    parser.add_argument("--speed", type=float, default=10.0, help="CP speed factor (default 10)")
    parser.add_argument("--kafka", default="", help="use this broker instead of starting one")
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--central-port", type=int, default=7070)
    parser.add_argument(
        "--web-port",
        type=int,
        default=8443,
        help="EV_Web's port, the public status page (default 8443; 0: no EV_Web)",
    )
    parser.add_argument("--engine-base-port", type=int, default=5600)
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run" / "network")
    parser.add_argument("--fresh", action="store_true", help="forget the previous run's database")
    gui = parser.add_mutually_exclusive_group()
    gui.add_argument("--gui", dest="gui", action="store_true", default=None)
    gui.add_argument("--no-gui", dest="gui", action="store_false")
    parser.add_argument(
        "--no-tile",
        dest="tile",
        action="store_false",
        help="leave the windows where the window system puts them (default: tiled over the "
        "screen, each program's --geometry; scripts/window_layout.py)",
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="stop by itself after this many seconds"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="development mode: no TLS, no Kafka credentials"
    )
    parser.add_argument(
        "--ha",
        action="store_true",
        help="three brokers, PostgreSQL and an active/standby pair of Centrals",
    )
    parser.add_argument("--pg-port", type=int, default=5433, help="PostgreSQL's port with --ha")
    parser.add_argument(
        "--observe",
        action="store_true",
        help="also run Prometheus (Debian's package) on the programs' metrics, "
        "http://127.0.0.1:9090 (scripts/observe.py, docs/operations.md)",
    )
    parser.add_argument(
        "--metrics-port-base",
        type=int,
        default=None,
        help="the programs' --metrics-port from this port on (make run: 9400; 0: none; "
        "Prometheus of --observe on this - 310)",
    )
    return parser.parse_args(argv)


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def seeded_cps() -> list[dict]:
    seed = json.loads((ROOT / "resources" / "seed.json").read_text())
    return list(seed.get("charging_points", seed.get("cps", [])))


def cp_specs(count: int) -> list[dict]:
    seeded = seeded_cps()
    specs = []
    for i in range(count):
        if i < len(seeded):
            specs.append(seeded[i])
        else:
            specs.append(
                {
                    "id": f"CP-{i + 1:02d}",
                    "location": "Nova Ribera",
                    "x": 80 + (i * 137) % 840,
                    "y": 80 + (i * 89) % 540,
                }
            )
    return specs


def ocpp_specs(count: int) -> list[dict]:
    """The simulated OCPP chargers: ids OCPP-01…, placed on the map between the seeded CPs."""
    return [
        {
            "id": f"OCPP-{i + 1:02d}",
            "location": "OCPP Plaza",
            "x": 300 + (i * 113) % 500,
            "y": 460 + (i * 71) % 180,
            "price": 0.4,
        }
        for i in range(count)
    ]


def ocpp_connector_specs(chargers: list[dict], connectors: int) -> list[dict]:
    """The CPs at Central of the OCPP chargers: one per connector (the charger's own id when
    it has one, ``<id>-<n>`` when several; ``ocpp_gateway.connectors``), at the charger's
    location, side by side on the map."""
    if connectors == 1:
        return chargers
    return [
        {**charger, "id": f"{charger['id']}-{n}", "x": charger["x"] + 14 * (n - 1)}
        for charger in chargers
        for n in range(1, connectors + 1)
    ]


def service_files(count: int, cp_ids: list[str], out_dir: Path) -> list[Path]:
    """Each driver's request file, limited to the CPs this run starts.

    The sample files in resources/services name all twelve seeded CPs; a demo with fewer
    CPs would otherwise spend half its requests on points that are not running. Lines keep
    their order, and a short result is repeated so every driver still makes 10+ requests.
    """
    samples = sorted((ROOT / "resources" / "services").glob("driver-*.txt"))
    if not samples:
        raise SystemExit("run: no request files in resources/services/")
    running = set(cp_ids)
    # the OCPP chargers are not in the sample files: each driver starts with them, in turn
    extra = [cp for cp in cp_ids if cp.startswith("OCPP-")]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        sample = samples[i % len(samples)]
        wanted = [line.split("#", 1)[0].strip() for line in sample.read_text().splitlines()]
        turn = extra[i % len(extra) :] + extra[: i % len(extra)] if extra else []
        wanted = turn + [cp for cp in wanted if cp in running] or list(cp_ids)
        lines = (wanted * (10 // len(wanted) + 1))[: max(10, len(wanted))]
        path = out_dir / f"driver-{i + 1}.txt"
        path.write_text(
            f"# from {sample.name}, limited to the running CPs\n" + "\n".join(lines) + "\n"
        )
        files.append(path)
    return files


class Network:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.children: list[Child] = []
        self.started_broker = False
        self.logs = args.run_dir / "logs"
        brokers = 3 if args.ha else 1
        self.bootstrap = args.kafka or ",".join(
            f"127.0.0.1:{args.kafka_port + i}" for i in range(brokers)
        )
        self.pg_dir = args.run_dir / "postgres"
        self.started_pg = False
        self.web_url = ""  # EV_Web's, once it listens
        self.db_url = ""  # PostgreSQL with --ha; else Central's SQLite file in the run folder
        self.central_ports = [args.central_port + i for i in range(2 if args.ha else 1)]
        # what the monitors and EV_OCPP get as --central (with --ha: both Centrals of the pair)
        self.centrals = ",".join(f"127.0.0.1:{port}" for port in self.central_ports)
        self.gui = display_available() if args.gui is None else args.gui
        # The demo's broker keeps its data inside the run folder: --fresh forgets it too, and
        # stopping the demo never stops a broker that someone else started elsewhere.
        # (a run dir keeps the mode its broker was formatted with: one per mode)
        broker_run = args.run_dir / (
            ("kafka-insecure" if args.insecure else "kafka") + ("-3" if args.ha else "")
        )
        self.broker_dir = ["--run-dir", str(broker_run)]
        self.brokers = ["--brokers", str(brokers)]
        self.places: dict[str, str] = {}  # window name -> --geometry, when tiled
        # program name -> its --metrics-port (/metrics, /healthz, /readyz): scripts/observe.py
        sys.path.insert(0, str(ROOT / "scripts"))
        from observe import metrics_ports

        self.metrics = metrics_ports(
            args.metrics_port_base or 0,
            ["central-a", "central-b"] if args.ha else ["central"],
            [cp["id"] for cp in cp_specs(args.cps)],
            ocpp=args.ocpp_cps > 0,
        )

    def tile_windows(self) -> None:
        """Each window's --geometry: Central, the panels and the drivers over the screen."""
        if not (self.gui and self.args.tile):
            return
        sys.path.insert(0, str(ROOT / "scripts"))
        from window_layout import geometry_arg, screen_area, window_places

        centrals = ["central-a", "central-b"] if self.args.ha else ["central"]
        panels = [f"engine-{cp['id']}" for cp in cp_specs(self.args.cps)]
        drivers = [f"driver-D-{i + 1:03d}" for i in range(self.args.drivers)]
        places = window_places(screen_area(), centrals, panels, drivers)
        self.places = {name: geometry_arg(rect) for name, rect in places.items()}

    def spawn(self, name: str, argv: list[str]) -> None:
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        if not self.gui:
            argv = [*argv, "--no-gui"]
        elif name in self.places:
            argv = [*argv, "--geometry", self.places[name]]
        if name in self.metrics:
            argv = [*argv, "--metrics-port", str(self.metrics[name])]
        self.children.append(Child(name, launch(argv, handle), log))

    def start(self) -> None:
        args = self.args
        if args.fresh and args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.tile_windows()
        if not args.kafka:
            print(f"run: starting the Kafka broker on {self.bootstrap} …", flush=True)
            mode = ["--insecure"] if args.insecure else []
            subprocess.run(
                [
                    sys.executable,
                    str(KAFKA_LOCAL),
                    "start",
                    "--port",
                    str(args.kafka_port),
                    *self.broker_dir,
                    *self.brokers,
                    *mode,
                ],
                check=True,
            )
            self.started_broker = True
        if args.ha:
            self.start_postgres()
        if args.insecure:
            print(
                "run: --insecure: Kafka is PLAINTEXT, without TLS, credentials or ACLs "
                "(development mode)",
                flush=True,
            )
        kafka = ["--kafka", self.bootstrap]
        central_tls, monitor_tls = self.tls_args()
        for index, port in enumerate(self.central_ports):
            name = f"central-{'ab'[index]}" if args.ha else "central"
            print(f"run: starting EV_Central {name} on port {port} …", flush=True)
            pair = ["--central-id", name] if args.ha else []
            self.spawn(
                name,
                [
                    str(BIN / "EV_Central"),
                    "--port",
                    str(port),
                    *kafka,
                    *self.db_args(),
                    *pair,
                    *central_tls,
                    *self.kafka_args("central"),
                    # the engines below supply at their rated power times --speed
                    "--rated-kw",
                    str(max(DEFAULT_RATED_KW, EngineConfig().power_kw * args.speed)),
                ],
            )
            self.wait_for_port(port, f"EV_Central {name}")
            if args.ha:
                print(f"run: {name} is pid {self.children[-1].process.pid}", flush=True)
        cps = cp_specs(args.cps)
        for i, cp in enumerate(cps):
            port = args.engine_base_port + i
            self.spawn(
                f"engine-{cp['id']}",
                [
                    str(BIN / "EV_CP_E"),
                    *kafka,
                    "--port",
                    str(port),
                    "--speed",
                    str(args.speed),
                    "--autopilot",
                    "--journal-dir",
                    str(args.run_dir / "journal"),
                    *self.kafka_args("engine"),
                ],
            )
        tokens = self.enroll(
            [cp["id"] for cp in cps], args.run_dir / "credentials", args.run_dir / "enroll"
        )
        # Monitors start once their engine answers, so no CP shows BROKEN for a moment.
        for i, cp in enumerate(cps):
            port = args.engine_base_port + i
            self.wait_for_port(port, f"EV_CP_E of {cp['id']}", child=f"engine-{cp['id']}")
            self.spawn(
                f"monitor-{cp['id']}",
                [
                    str(BIN / "EV_CP_M"),
                    "--engine",
                    f"127.0.0.1:{port}",
                    "--central",
                    self.centrals,
                    "--cp-id",
                    cp["id"],
                    "--location",
                    cp.get("location", ""),
                    "--x",
                    str(cp.get("x", "")),
                    "--y",
                    str(cp.get("y", "")),
                    "--credentials-dir",
                    str(args.run_dir / "credentials"),
                    *monitor_tls,
                    *(["--enroll-token", f"@{tokens[cp['id']]}"] if cp["id"] in tokens else []),
                ],
            )
        ocpp = ocpp_specs(args.ocpp_cps)
        if ocpp:
            self.start_ocpp(ocpp, kafka, monitor_tls)
        cp_ids = [cp["id"] for cp in cps + ocpp_connector_specs(ocpp, args.ocpp_connectors)]
        files = service_files(args.drivers, cp_ids, args.run_dir / "services")
        for i, services in enumerate(files):
            driver_id = f"D-{i + 1:03d}"
            self.spawn(
                f"driver-{driver_id}",
                [
                    str(BIN / "EV_Driver"),
                    *kafka,
                    "--driver-id",
                    driver_id,
                    "--services",
                    str(services),
                    "--data-dir",
                    str(args.run_dir / driver_id),
                    *self.kafka_args("driver"),
                    *self.driver_key(driver_id),
                ],
            )
        self.start_web(kafka)
        mode = "with windows" if self.gui else "headless"
        ocpp_part = f" (+{args.ocpp_cps} OCPP)" if args.ocpp_cps else ""
        central = "an active/standby pair of centrals" if args.ha else "1 central"
        print(
            f"run: network up {mode}: {central}, {args.cps} CPs{ocpp_part}, {args.drivers} drivers."
        )
        print(f"run: logs in {self.logs}; Ctrl+C stops everything.", flush=True)
        self.observe()
        if self.web_url:
            print(f"run: the public status page (EV_Web): {self.web_url}", flush=True)

    def start_web(self, kafka: list[str]) -> None:
        """EV_Web, the public status page (docs/web.md), as the read-only ``web`` Kafka role,
        over HTTPS with the CA's ``web`` certificate (plain HTTP with --insecure)."""
        port = self.args.web_port
        if not port:
            return
        tls: list[str] = []  # with --insecure, kafka_args says so (plain HTTP, PLAINTEXT Kafka)
        if not self.args.insecure:
            from wire.pki import Secrets, default_dir

            secrets = Secrets(default_dir())
            tls = ["--tls-cert", str(secrets.cert("web")), "--tls-key", str(secrets.key("web"))]
        self.spawn(
            "web",
            [  # EV_Web's module: the same program, even where the console script is not installed yet
                sys.executable,
                "-m",
                "web_app",
                *kafka,
                "--port",
                str(port),
                *tls,
                *self.kafka_args("web"),
            ],
        )
        self.wait_for_port(port, "EV_Web")
        scheme = "http" if self.args.insecure else "https"
        self.web_url = f"{scheme}://127.0.0.1:{port}/"

    def observe(self) -> None:
        """Say where the metrics are; with --observe, start Prometheus on them."""
        from observe import say_ports, start_prometheus

        base = self.args.metrics_port_base or 0
        say_ports(base, self.metrics)
        if self.args.observe:
            log = self.logs / "prometheus.log"
            process = start_prometheus(self.args.run_dir, base, self.metrics, log)
            if process is not None:
                self.children.append(Child("prometheus", process, log))

    def start_ocpp(self, chargers: list[dict], kafka: list[str], monitor_tls: list[str]) -> None:
        """EV_OCPP and simulated OCPP chargers (``ocpp_gateway.sim``). Each charger's CP (one
        per connector with ``--ocpp-connectors``) is added to Central's registry with its map
        position (``evc-admin cp add``; it stays if it is there already) and enrolled; the
        charger gets a fresh basic-auth password (``evc-admin ocpp password``)."""
        from wire.pki import write_private

        args = self.args
        admin = [str(BIN / "evc-admin"), *self.db_args()]
        passwords = args.run_dir / "ocpp" / "passwords.json"
        password_dir = args.run_dir / "ocpp" / "charger-passwords"
        password_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        connector_cps = ocpp_connector_specs(chargers, args.ocpp_connectors)
        for cp in connector_cps:
            subprocess.run(
                [*admin, "cp", "add", cp["id"], "--location", cp["location"]]
                + ["--x", str(cp["x"]), "--y", str(cp["y"]), "--price", str(cp["price"])],
                check=False,
                capture_output=True,
            )
        for cp in chargers:
            made = subprocess.run(
                [*admin, "ocpp", "password", cp["id"], "--file", str(passwords)],
                check=True,
                capture_output=True,
                text=True,
            )
            write_private(password_dir / cp["id"], made.stdout.strip().encode())
        tokens = args.run_dir / "ocpp" / "enroll-tokens"  # <CP id>.token each (a connector's)
        self.enroll(
            [cp["id"] for cp in connector_cps], args.run_dir / "ocpp" / "credentials", tokens
        )
        gateway_tls, charger_tls = self.ocpp_tls([cp["id"] for cp in chargers])
        scheme = "wss" if args.ocpp_profile > 1 else "ws"
        # N connectors each: EV_OCPP serves every charger with N, each simulated charger has N
        connectors = ["--connectors", str(args.ocpp_connectors)] if args.ocpp_connectors > 1 else []
        print(
            f"run: starting EV_OCPP on {scheme}://127.0.0.1:{args.ocpp_port} (OCPP security "
            f"profile {args.ocpp_profile}) …",
            flush=True,
        )
        self.spawn(
            "ocpp-gateway",
            [
                str(BIN / "EV_OCPP"),
                "--port",
                str(args.ocpp_port),
                "--host",
                "127.0.0.1",
                "--central",
                self.centrals,
                *kafka,
                "--passwords",
                str(passwords),
                "--credentials-dir",
                str(args.run_dir / "ocpp" / "credentials"),
                "--state-dir",
                str(args.run_dir / "ocpp" / "state"),
                "--enroll-tokens",
                str(tokens),
                "--heartbeat-interval",
                "10",
                "--security-profile",
                str(args.ocpp_profile),
                *connectors,
                *gateway_tls,
                *monitor_tls,
                *self.kafka_args("engine"),
            ],
        )
        self.wait_for_port(args.ocpp_port, "EV_OCPP")
        for cp in chargers:
            self.spawn(
                f"ocpp-{cp['id']}",
                [
                    sys.executable,
                    "-m",
                    "ocpp_gateway.sim",
                    "--url",
                    f"{scheme}://127.0.0.1:{args.ocpp_port}/ocpp",
                    "--id",
                    cp["id"],
                    "--password-file",
                    str(password_dir / cp["id"]),
                    *charger_tls[cp["id"]],
                    "--speed",
                    str(args.speed),
                    "--charge-seconds",
                    "10",
                    "--ocpp-version",
                    args.ocpp_version,
                    *connectors,
                ],
            )

    def ocpp_tls(self, cp_ids: list[str]) -> tuple[list[str], dict[str, list[str]]]:
        """EV_OCPP's and each simulated charger's TLS arguments for ``--ocpp-profile``: the
        secrets directory's ``ocpp.pem`` (created when missing) and CA; in profile 3 each
        charger's certificate, issued by ``evc-admin ocpp cert`` into the run folder."""
        profile = self.args.ocpp_profile
        if profile == 1:
            return [], {cp_id: [] for cp_id in cp_ids}
        from wire.pki import Secrets, default_dir

        secrets = Secrets(default_dir())
        secrets.init()  # ocpp.pem is new in an older secrets directory; the rest stays
        gateway = ["--ocpp-cert", str(secrets.cert("ocpp")), "--ocpp-key", str(secrets.key("ocpp"))]
        gateway += ["--ocpp-ca", str(secrets.ca_cert)]
        chargers = {cp_id: ["--ca", str(secrets.ca_cert)] for cp_id in cp_ids}
        if profile == 3:
            out = self.args.run_dir / "ocpp" / "charger-certs"
            for cp_id in cp_ids:
                subprocess.run(
                    [str(BIN / "evc-admin"), "ocpp", "cert", cp_id]
                    + ["--dir", str(secrets.root), "--out", str(out)],
                    check=True,
                    capture_output=True,
                )
                chargers[cp_id] += ["--cert", str(out / f"{cp_id}.pem")]
                chargers[cp_id] += ["--key", str(out / f"{cp_id}.key")]
        return gateway, chargers

    def driver_key(self, driver_id: str) -> list[str]:
        """The driver's key, exported from Central's database as the operator would hand it
        over (``evc-admin driver key ID --current``); Central seeded it with a key."""
        if self.args.insecure:
            return []
        from driver_app.driver_key import default_key_file

        path = default_key_file(driver_id)  # the secrets directory, outside the repository
        subprocess.run(
            [
                str(BIN / "evc-admin"),
                *self.db_args(),
                "driver",
                "key",
                driver_id,
                "--current",
                "--key-file",
                str(path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return ["--driver-key", str(path)]

    def enroll(self, cp_ids: list[str], credentials: Path, folder: Path) -> dict[str, Path]:
        """Enrollment tokens for the CPs whose monitor has no credential in ``credentials``
        yet, issued in one transaction in Central's database (which Central created) and
        written 0600 as ``folder/<id>.token``: {id: file}. Nothing with --insecure."""
        if self.args.insecure:
            return {}
        from central_app.db import DatabaseError, default_url, open_database
        from central_app.store import RegistryError, Store
        from wire.pki import write_private

        wanted = [cp_id for cp_id in cp_ids if not (credentials / f"{cp_id}.cred").exists()]
        if not wanted:
            return {}
        try:
            db = open_database(self.db_url or default_url(self.args.run_dir / "central"))
        except DatabaseError as exc:
            raise SystemExit(f"run: cannot issue enrollment tokens: {exc}") from None
        try:
            store = Store(db)
            registered = {r.cp_id for r in store.load_cps() if r.has_credential}
            for cp_id in sorted(registered.intersection(wanted)):
                print(
                    f"run: {cp_id} is registered at Central but its monitor has no credential "
                    f"in {credentials}: it will be refused (run with --fresh, or "
                    f"`evc-admin cp revoke {cp_id}` and run again)",
                    flush=True,
                )
            wanted = [cp_id for cp_id in wanted if cp_id not in registered]
            issued = store.issue_enrollments(wanted, "make run", 24 * 3600)
        except RegistryError as exc:
            raise SystemExit(f"run: cannot issue enrollment tokens: {exc}") from None
        finally:
            db.dispose()
        files = {}
        for cp_id, (token, _) in issued.items():
            files[cp_id] = folder / f"{cp_id}.token"
            write_private(files[cp_id], f"{token}\n".encode())
        if files:
            print(f"run: enrollment tokens for {', '.join(files)} in {folder}", flush=True)
        return files

    def db_args(self) -> list[str]:
        given = ["--db", self.db_url] if self.db_url else []
        return ["--data-dir", str(self.args.run_dir / "central"), *given]

    def start_postgres(self) -> None:
        """PostgreSQL for the pair; the programs read its password from PGPASSFILE."""
        print(f"run: starting PostgreSQL on 127.0.0.1:{self.args.pg_port} …", flush=True)
        where = ["--run-dir", str(self.pg_dir)]
        pg = [sys.executable, str(PG_LOCAL)]
        subprocess.run([*pg, "start", "--port", str(self.args.pg_port), *where], check=True)
        self.started_pg = True
        os.environ["PGPASSFILE"] = str(self.pg_dir / "pgpass")
        url = subprocess.run([*pg, "url", *where], check=True, capture_output=True, text=True)
        self.db_url = url.stdout.strip()

    def kafka_args(self, role: str) -> list[str]:
        """``--kafka-credentials`` with the role's file of the secrets directory (which
        ``kafka-local start`` created), or ``--insecure``."""
        if self.args.insecure:
            return ["--insecure"]
        from wire.pki import Secrets, default_dir

        return ["--kafka-credentials", str(Secrets(default_dir()).kafka_role(role))]

    def kafka_security(self):  # the summary reads as the admin super user (it is the operator)
        if self.args.insecure:
            return None
        from wire.kafka.security import KafkaSecurity
        from wire.pki import Secrets, default_dir

        return KafkaSecurity.from_file(Secrets(default_dir()).kafka_role("admin"))

    def tls_args(self) -> tuple[list[str], list[str]]:
        """Central's and the monitors' TLS arguments: the secrets directory's certificate and
        CA (created on first run), or ``--insecure`` for both."""
        if self.args.insecure:
            print("run: --insecure: the monitor link is plain TCP (development mode)", flush=True)
            return ["--insecure"], ["--insecure"]
        from wire.pki import Secrets, default_dir

        secrets = Secrets(default_dir())
        created = secrets.init()
        if created:
            print(f"run: created secrets in {secrets.root}: {', '.join(created)}", flush=True)
        central = [
            "--tls-cert",
            str(secrets.cert("central")),
            "--tls-key",
            str(secrets.key("central")),
        ]
        return central, ["--central-ca", str(secrets.ca_cert)]

    def wait_for_port(
        self, port: int, what: str, timeout: float = 30.0, child: str | None = None
    ) -> None:
        import socket

        watched = next((c for c in self.children if c.name == child), None) or self.children[-1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if watched.process.poll() is not None:
                raise SystemExit(f"run: {what} exited; see {watched.log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"run: {what} did not open port {port} within {timeout:.0f}s")

    def stop(self) -> None:
        print("run: stopping …", flush=True)
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.started_broker:
            subprocess.run([str(KAFKA_LOCAL), "stop", *self.broker_dir], check=False)
        if self.started_pg:
            subprocess.run([str(PG_LOCAL), "stop", "--run-dir", str(self.pg_dir)], check=False)
        print("run: stopped.", flush=True)


def tickets_written(db: Path, url: str = "") -> int:
    """Tickets in Central's database (driver notices are sealed for their drivers; the
    operator's view of billing is the database): its SQLite file, or ``url``."""
    if url:
        return tickets_at(url)
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as c:
            return c.execute("SELECT count(*) FROM sessions WHERE status = 'ticketed'").fetchone()[
                0
            ]
    except sqlite3.Error:
        return 0


def tickets_at(url: str) -> int:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM sessions WHERE status = 'ticketed'"
            return int(conn.execute(text(query)).scalar() or 0)
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def summarize(network: Network, duration: float) -> None:
    """Print one line per second: CP states from the network-state topic, tickets from
    Central's database."""
    from wire.kafka.consumer import EventConsumer
    from wire.kafka.messages import NETWORK_STATE
    from wire.kafka.topics import Topics

    topics = Topics()
    statuses: dict[str, str] = {}
    database = network.args.run_dir / "central" / "evcentral.db"
    consumer = EventConsumer(
        network.bootstrap,
        group_id=f"run-summary-{os.getpid()}",
        codecs={topics.network_state: NETWORK_STATE},
        dead_letter_topic=None,
        from_beginning=False,
        security=network.kafka_security(),
    )
    consumer.subscribe()

    def handle(received) -> None:
        event = received.event
        if getattr(event, "TYPE", "") == "cp_state":
            statuses[event.cp_id] = event.status

    started = time.monotonic()
    next_line = started + 1
    try:
        while duration <= 0 or time.monotonic() - started < duration:
            consumer.poll(handle, timeout=0.2)
            if time.monotonic() >= next_line:
                next_line += 1
                counts: dict[str, int] = {}
                for status in statuses.values():
                    counts[status] = counts.get(status, 0) + 1
                dead = [c.name for c in network.children if c.process.poll() is not None]
                parts = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "waiting for CPs"
                extra = f" exited: {', '.join(dead)}" if dead else ""
                ocpp = [
                    f"{cp}={st}" for cp, st in sorted(statuses.items()) if cp.startswith("OCPP-")
                ]
                if ocpp:
                    extra = f" ocpp: {' '.join(ocpp)}{extra}"
                print(
                    f"run: t={int(time.monotonic() - started)}s {parts} "
                    f"tickets={tickets_written(database, network.db_url)}{extra}",
                    flush=True,
                )
    finally:
        consumer.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.metrics_port_base is None:  # make run; a Network built elsewhere has none
        args.metrics_port_base = 9400
    network = Network(args)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        network.start()
        summarize(network, args.duration)
    except KeyboardInterrupt:
        pass
    except subprocess.CalledProcessError as exc:
        print(f"run: a setup step failed: {exc}", file=sys.stderr)
        return 1
    finally:
        network.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
