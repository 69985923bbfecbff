"""``evc-chaos``: a seeded fault campaign against a real HA network, then the books checked.

    evc-chaos [--seed N] [--duration S] [--cps 8] [--ocpp-cps 2] [--drivers 4]
              [--max-concurrent 2] [--heal-min 3] [--heal-max 15] [--faults kill,pause,…]
              [--run-dir DIR] [ports] [--plan-only]

1. Start the network in its HA form (``scripts/run_network.py``'s ``Network``, ``--ha``):
   three brokers, PostgreSQL, the Central pair, the CPs, EV_OCPP with its chargers, drivers
   running services files; its own run dir and ports (``make run``'s are untouched).
2. Inject the schedule (``chaos.schedule.plan``: the seed's, printed first) for
   ``--duration`` s: one line per fault injected and healed, a progress line every 10 s.
3. Quiet period: every fault healed, the drivers told to stop after their current request,
   until no session is open, every CP is ACTIVE and Central's ticket grace has passed.
4. The checker (``chaos.checker``) over what left the programs; each violation with its
   evidence and the faults around it. Exit 0 when clean, 1 on any violation, 2 when the
   campaign could not run.

docs/reliability.md has the catalogue, the invariants and the campaigns run so far.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import KafkaException
from sqlalchemy.exc import SQLAlchemyError

from chaos import checker, report
from chaos.campaign import Campaign
from chaos.collect import (
    LiveView,
    driver_outputs,
    keys_from_database,
    open_tickets,
    read_journals,
    read_topics,
    scan_tracebacks,
    sessions_from_database,
)
from chaos.components import ROOT, Layout, RunningNetwork, components, cp_ids
from chaos.disks import Disks, unmount_below
from chaos.evidence import Evidence, Limits, ProcessFate
from chaos.faults import Injector
from chaos.host import Cgroups, Firewall, signal_all
from chaos.schedule import FaultKind, catalogue, plan

#: Central's --ticket-grace (15 s) and a margin: the quiet period lasts at least this long
TICKET_GRACE_S = 15.0
DRIVER_START_S = 5.0  # a restarted driver has imported and installed its handlers by then


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="evc-chaos", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=None, help="the schedule's seed (default: random)")
    p.add_argument("--duration", type=float, default=120.0, help="s of faults (default 120)")
    p.add_argument("--cps", type=int, default=8, help="charging points (default 8)")
    p.add_argument("--ocpp-cps", type=int, default=2, help="OCPP chargers (default 2)")
    p.add_argument("--drivers", type=int, default=4, help="driver consoles (default 4)")
    p.add_argument("--speed", type=float, default=10.0, help="the CPs' speed factor (default 10)")
    p.add_argument("--max-concurrent", type=int, default=2, help="faults at once (default 2)")
    p.add_argument("--heal-min", type=float, default=3.0, help="s a fault acts, at least (3)")
    p.add_argument("--heal-max", type=float, default=15.0, help="s a fault acts, at most (15)")
    p.add_argument("--mean-gap", type=float, default=5.0, help="mean s between faults (5)")
    p.add_argument(
        "--faults",
        default=",".join(k.value for k in FaultKind),
        help="the kinds to draw from (default all: " + ",".join(k.value for k in FaultKind) + ")",
    )
    p.add_argument(
        "--only",
        default="",
        help="draw only faults whose components all match these names or kinds "
        "(e.g. central-a,postgres or central,broker; default: every component)",
    )
    p.add_argument("--run-dir", type=Path, default=ROOT / ".run" / "chaos")
    p.add_argument("--kafka-port", type=int, default=24092, help="first of three (24092)")
    p.add_argument("--central-port", type=int, default=24070, help="central-a; b is +1 (24070)")
    p.add_argument("--engine-base-port", type=int, default=24600)
    p.add_argument("--ocpp-port", type=int, default=24000)
    p.add_argument("--pg-port", type=int, default=24433)
    p.add_argument(
        "--web-port", type=int, default=24443, help="EV_Web's (24443; make run's is 8443)"
    )
    p.add_argument("--quiet-max", type=float, default=150.0, help="longest quiet period (150 s)")
    p.add_argument("--max-central-rss-mb", type=float, default=Limits().central_rss_mib)
    p.add_argument("--max-central-fds", type=int, default=Limits().central_fds)
    p.add_argument("--plan-only", action="store_true", help="print the schedule and stop")
    args = p.parse_args(argv)
    try:
        args.kinds = [FaultKind(k.strip()) for k in args.faults.split(",") if k.strip()]
    except ValueError as exc:
        p.error(f"--faults: {exc}")
    if not 0 < args.heal_min <= args.heal_max:
        p.error("--heal-min must be positive and at most --heal-max")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    return args


def say(text: str) -> None:
    print(text, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    layout = Layout(
        run_dir=args.run_dir.resolve(),
        cps=args.cps,
        ocpp_cps=args.ocpp_cps,
        drivers=args.drivers,
        speed=args.speed,
        kafka_port=args.kafka_port,
        central_port=args.central_port,
        engine_base_port=args.engine_base_port,
        ocpp_port=args.ocpp_port,
        pg_port=args.pg_port,
        web_port=args.web_port,
    )
    comps = components(layout)
    options = catalogue(comps)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()}
        matching = {c.name for c in comps if c.name in wanted or c.kind in wanted}
        options = [o for o in options if o.components <= matching]
    schedule = plan(
        args.seed,
        args.duration,
        options,
        max_concurrent=args.max_concurrent,
        heal=(args.heal_min, args.heal_max),
        mean_gap=args.mean_gap,
        kinds=args.kinds,
    )
    same = (
        f"--seed {args.seed} --duration {args.duration:g} --cps {args.cps} --ocpp-cps "
        f"{args.ocpp_cps} --drivers {args.drivers} --max-concurrent {args.max_concurrent}"
        f" --heal-min {args.heal_min:g} --heal-max {args.heal_max:g} --mean-gap {args.mean_gap:g}"
        + (f" --faults {args.faults}" if set(args.kinds) != set(FaultKind) else "")
        + (f" --only {args.only}" if args.only else "")
    )
    say(
        f"chaos: seed {args.seed}: {len(schedule)} faults in {args.duration:g} s (again: evc-chaos {same})"
    )
    for fault in schedule:
        say(f"  {fault.line()}")
    if args.plan_only:
        return 0
    limits = Limits(central_rss_mib=args.max_central_rss_mb, central_fds=args.max_central_fds)
    try:
        return campaign(args, layout, schedule, limits)
    except KeyboardInterrupt:
        say("chaos: interrupted; everything was healed and stopped")
        return 2
    except subprocess.CalledProcessError as exc:
        say(f"chaos: the network could not be started: {exc}")
        return 2
    except SystemExit as exc:  # run_network.py says why it cannot go on, and exits
        if isinstance(exc.code, int):
            raise
        say(f"chaos: the network could not be started: {exc.code}")
        return 2


def taken_ports(layout: Layout) -> list[int]:
    """The campaign's ports that something else listens on already."""
    wanted = [layout.kafka_port + i for i in range(3)] + [
        layout.central_port,
        layout.central_port + 1,
    ]
    wanted += [layout.engine_base_port + i for i in range(layout.cps)]
    wanted += [layout.ocpp_port, layout.pg_port, layout.web_port]
    taken = []
    for port in wanted:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no user
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


def campaign(args: argparse.Namespace, layout: Layout, schedule: list, limits: Limits) -> int:
    taken = taken_ports(layout)
    if taken:
        say(
            f"chaos: ports {', '.join(map(str, taken))} are in use already; choose others "
            "(--kafka-port, --central-port, --engine-base-port, --ocpp-port, --pg-port, "
            "--web-port)"
        )
        return 2
    cgroups = Cgroups()
    firewall = Firewall(cgroups)
    run_dir = layout.run_dir
    unmount_below(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, mode=0o755)
    run_dir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
    os.environ["EVC_SECRETS"] = str(run_dir / "secrets")  # the campaign's own CA and keys
    lines = int(args.duration / 4) + 12  # every 4 s at most, and more: drivers are stopped
    network = RunningNetwork(layout, cgroups, services_lines=lines)
    disks = Disks(run_dir / "disks")
    for signum in (signal.SIGTERM, signal.SIGHUP):  # healed and stopped like Ctrl+C
        signal.signal(signum, _interrupt)
    live: LiveView | None = None
    cps = cp_ids(layout)
    run: Campaign | None = None
    ev = Evidence(cps=cps, limits=limits)
    try:
        disks.prepare(network.broker_data_dirs())  # before the brokers format their storage
        network.start()
        firewall.open()
        for kind in FaultKind:
            why = Injector(network, firewall, disks).unavailable(kind)
            if why and kind in args.kinds:
                say(f"chaos: {why}")
        live = LiveView(network.bootstrap, network.net.kafka_security())
        wait_ready(live, cps)
        run = Campaign(
            network,
            Injector(network, firewall, disks),
            schedule,
            args.duration,
            args.max_concurrent,
            cps,
            live=live,
            say=say,
        )
        say(f"chaos: t=0 the campaign starts ({len(schedule)} faults planned)")
        run.run()
        run.close()
        last = max([h.healed_at or 0 for h in run.timeline] + [time.time()])
        stopped = quiet(network, live, cps, last, args.quiet_max)
        ev.processes = fates(network, stopped)
        ev.exits, ev.samples = run.exits, run.samples
        ev.timeline = sorted(run.timeline, key=lambda h: h.fault.index)
        ev.started_at = run.started_at
        say("chaos: reading the evidence (Kafka topics as admin, the database, journals) …")
        url = network.db_url
        try:
            ev.records, ev.unopened = read_topics(
                network.bootstrap, network.net.kafka_security(), lambda: keys_from_database(url)
            )
            ev.sessions = sessions_from_database(url)
        except (RuntimeError, KafkaException, SQLAlchemyError) as exc:
            say(f"chaos: the evidence could not be read, so nothing can be judged: {exc}")
            return 2
        ev.journals = read_journals(run_dir / "journal")
        ev.checked_at = time.time()
    finally:
        if run is not None:
            run.close()
        firewall.close()
        if live is not None:
            live.close()
        network.stop()
        disks.close()
        cgroups.close()
    logs = run_dir / "logs"
    ev.drivers = driver_outputs(logs)
    ev.tracebacks = scan_tracebacks(sorted(logs.glob("*.log")))
    violations = checker.check(ev)
    report.render(violations, ev, say)
    say(f"chaos: logs in {logs}")
    return 1 if violations else 0


def wait_ready(live: LiveView, cps: list[str], timeout: float = 180.0) -> None:
    """Until every CP shows ACTIVE or SUPPLYING (the drivers start at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(live.status.get(cp) in ("ACTIVE", "SUPPLYING") for cp in cps):
            return
        time.sleep(0.5)
    say(f"chaos: not every CP came up within {timeout:.0f} s: {live.counts(cps)}; going on")


def quiet(
    network: RunningNetwork, live: LiveView, cps: list[str], last_heal: float, most: float
) -> set[str]:
    """Stop new requests and wait until the supplies ended and Central's grace passed; the
    drivers told to stop."""
    stopped = set()
    drivers = network.programs("driver")
    # A driver restarted a moment ago is still importing: a SIGINT then is Python's own
    # KeyboardInterrupt traceback, not the driver's "stop after the current request".
    youngest = max((getattr(d, "started_at", 0.0) for d in drivers), default=0.0)
    time.sleep(max(0.0, youngest + DRIVER_START_S - time.monotonic()))
    for driver in drivers:
        if signal_all(driver.pids(), signal.SIGINT):  # "stop after the current request"
            stopped.add(driver.name)
    say(f"chaos: quiet period: {len(stopped)} drivers told to stop after their current request")
    started = time.monotonic()
    next_line = started + 10
    while time.monotonic() - started < most:
        running = [d.name for d in drivers if d.alive()]
        if running and time.monotonic() - started > most / 2:
            for driver in drivers:
                signal_all(driver.pids(), signal.SIGTERM)
        tickets, open_ = open_tickets(network.db_url)
        not_active = {cp: live.status.get(cp) for cp in cps if live.status.get(cp) != "ACTIVE"}
        grace_left = last_heal + TICKET_GRACE_S + 5 - time.time()
        if not running and open_ == 0 and not not_active and grace_left <= 0:
            time.sleep(3)  # the last states and notices land
            say(f"chaos: quiet after {time.monotonic() - started:.0f} s ({tickets} tickets)")
            return stopped
        if time.monotonic() >= next_line:
            next_line += 10
            say(
                f"chaos: quiet: drivers running {len(running)}, open sessions {open_}, "
                f"CPs not ACTIVE {not_active or 'none'}, grace left {max(grace_left, 0):.0f} s"
            )
        time.sleep(1)
    say(f"chaos: still not quiet after {most:.0f} s; checking anyway")
    return stopped


def fates(network: RunningNetwork, stopped: set[str]) -> list[ProcessFate]:
    return [
        ProcessFate(
            m.name,
            m.kind,
            m.alive(),
            m.exit_code(),
            stopped_by_campaign=m.name in stopped,
            log=str(m.log),
        )
        for m in network.programs()
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
