"""``evc-fleet``: an independent load generator and benchmark for EV_Central.

    evc-fleet run --cps 1000 --duration 60 [--storm]   register N CPs, steady phase (+ storm)
    evc-fleet storm --cps 10000                        register, a short steady phase, restart storm
    evc-fleet failover --cps 1000 [--db URL]           the same with an active/standby pair
    evc-fleet register --cps 10000                     only the registration from an empty database
    evc-fleet soak --cps 1000 --duration 7200          a long steady phase: growth of Central's
                                                       RSS and open files (fleet/soak.py)
    evc-fleet bench                                    the standard set (make bench)
    evc-fleet table results.json [--markdown]          print a results file's table again
    evc-fleet chart results.json docs/img/performance.png

Every run starts EV_Central as a child (``--central-cmd``, ``--pythonpath`` to measure
another checkout), and a broker with ``scripts/kafka-local`` unless ``--kafka`` is given.
Only 127.0.0.1 is used. See docs/performance.md.

The network is the secured one unless ``--plain`` (issue 20): TLS on the monitor link,
sealed Kafka values, a SASL_SSL broker whose users and role files are in ``<run dir>/secrets``
(fleet/security.py). ``--plain`` runs none of the three; ``--plain --tls``, ``--sealed``,
``--sasl`` add one back. A broker given with ``--kafka`` is SASL_SSL with the role files of
``--kafka-secrets DIR``, or PLAINTEXT with ``--plain``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from fleet import go_generator
from fleet.broker import Broker
from fleet.central import Sampler
from fleet.commands import default_central_command
from fleet.errors import FleetError
from fleet.go_generator import GoMissing
from fleet.limits import raise_nofile
from fleet.pinning import Pinning, pin_process, plan
from fleet.report import machine, table
from fleet.scenario import Scenario, ScenarioOptions
from fleet.soak_report import finish_soak
from fleet.soak_scenario import SoakScenario
from wire import cli

BENCH_SIZES = (1000, 3000, 10000)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text!r}") from None
    if not sizes or any(n < 1 or n > 50_000 for n in sizes):
        raise argparse.ArgumentTypeError("sizes are between 1 and 50000")
    return sizes


def _cps(text: str) -> int:
    return _sizes(text)[0]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kafka", type=cli.host_port, help="use this broker (default: start one)")
    p.add_argument(
        "--kafka-secrets",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --kafka: the secrets directory the SASL_SSL broker was started with "
        "(scripts/kafka-local start --secrets DIR; its kafka-<role>.properties)",
    )
    p.add_argument(
        "--central-cmd",
        default=None,
        help="command that runs Central (default: this Python -m central_app.main)",
    )
    p.add_argument("--pythonpath", default=None, help="run Central from this checkout (cwd too)")
    p.add_argument(
        "--central-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for Central (repeatable, e.g. --central-arg=--workers=2)",
    )
    p.add_argument("--workers", type=int, default=0, help="monitor processes (default: auto)")
    p.add_argument("--drivers", type=int, default=0, help="drivers (default: enough for --share)")
    p.add_argument("--share", type=float, default=0.2, help="share of CPs supplying (0.2)")
    p.add_argument("--supply-seconds", type=cli.positive, default=30.0, help="supply length (30)")
    p.add_argument("--register-timeout", type=cli.positive, default=300.0, help="seconds (300)")
    p.add_argument("--storm-timeout", type=cli.positive, default=60.0, help="seconds (60)")
    p.add_argument(
        "--response-timeout", type=cli.positive, default=10.0, help="monitor's, as EV_CP_M (10 s)"
    )
    p.add_argument(
        "--spread",
        type=cli.positive,
        default=1.0,
        help="seconds over which the N monitors first connect (1: a registration burst)",
    )
    p.add_argument("--silence", type=int, default=3, help="CPs silenced in the steady phase (3)")
    p.add_argument(
        "--generator",
        choices=["auto", "go", "python"],
        default="auto",
        help="the monitor side: go (fleet/gomon, built with the Debian golang-go of make setup), "
        "python (asyncio worker processes), auto: go where it builds (default)",
    )
    p.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the processes (default: Central on CPU 0; broker, generator and Kafka "
        "simulation on CPU 1, with taskset)",
    )
    p.add_argument(
        "--monitor-nice",
        type=int,
        default=None,
        help="scheduling priority of the monitor side (default: 0 for the Go generator; -5 for "
        "the Python workers, ahead of the rest of the machine, so their clocks measure "
        "Central, not their own wait for a CPU)",
    )
    p.add_argument("--label", default="", help="name of this run in the results")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default in the run dir)")
    p.add_argument("--run-dir", type=Path, default=None, help="default .run/fleet/<time>")
    p.add_argument("--progress-every", type=cli.positive, default=5.0, help="seconds (5)")
    p.add_argument(
        "--plain",
        action="store_true",
        help="the insecure network: plain TCP monitor link, unsealed values, PLAINTEXT broker "
        "(default: all three secured, as make run's; with --tls/--sealed/--sasl: those back)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="with --plain: monitors ⇄ Central over TLS anyway (on by default; a CA and "
        "Central's certificate in <run dir>/secrets)",
    )
    p.add_argument(
        "--sealed",
        action="store_true",
        help="with --plain: Kafka values sealed with the CPs' and drivers' keys anyway (on by "
        "default; docs/security.md layer 2)",
    )
    p.add_argument(
        "--sasl",
        action="store_true",
        help="with --plain: the broker SASL_SSL anyway (on by default; docs/security.md layer 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evc-fleet", description="Load generator for EV_Central.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="register N CPs, then a steady phase")
    run.add_argument("--cps", type=_cps, required=True)
    run.add_argument("--duration", type=cli.positive, default=60.0, help="steady seconds (60)")
    run.add_argument("--storm", action="store_true", help="end with a restart storm")
    _common(run)
    failover = sub.add_parser(
        "failover", help="register N CPs with an active/standby pair, SIGKILL the active"
    )
    failover.add_argument("--cps", type=_cps, required=True)
    failover.add_argument("--duration", type=cli.positive, default=10.0, help="steady s (10)")
    failover.add_argument(
        "--db", default=None, help="the pair's PostgreSQL URL (default: scripts/pg-local)"
    )
    _common(failover)
    storm = sub.add_parser("storm", help="register N CPs, short steady phase, restart storm")
    storm.add_argument("--cps", type=_cps, required=True)
    storm.add_argument("--duration", type=cli.positive, default=20.0, help="steady seconds (20)")
    _common(storm)
    soak_p = sub.add_parser(
        "soak", help="a long steady phase sampling Central's resources and latencies"
    )
    soak_p.add_argument("--cps", type=_cps, required=True)
    soak_p.add_argument("--duration", type=cli.positive, default=7200.0, help="seconds (7200)")
    soak_p.add_argument(
        "--sample-every", type=cli.positive, default=60.0, help="seconds between samples (60)"
    )
    soak_p.add_argument(
        "--warmup",
        type=cli.positive,
        default=600.0,
        help="seconds not judged (600; at most a third of --duration)",
    )
    _common(soak_p)
    reg = sub.add_parser("register", help="registration of N CPs from an empty database")
    reg.add_argument("--cps", type=_cps, required=True)
    _common(reg)
    bench = sub.add_parser("bench", help="the standard scenarios")
    bench.add_argument("--sizes", type=_sizes, default=list(BENCH_SIZES))
    bench.add_argument("--duration", type=cli.positive, default=60.0, help="steady seconds (60)")
    _common(bench)
    tab = sub.add_parser("table", help="print the table of a results file")
    tab.add_argument("results", type=Path)
    tab.add_argument("--markdown", action="store_true")
    chart = sub.add_parser("chart", help="draw heartbeat p99 and Central CPU against N")
    chart.add_argument("results", type=Path, nargs="+", help="results file(s); several = series")
    chart.add_argument("output", type=Path)
    return p


def say(text: str) -> None:
    print(text, flush=True)


def _options(args: argparse.Namespace, cps: int, **what: Any) -> ScenarioOptions:
    command = shlex.split(args.central_cmd) if args.central_cmd else default_central_command()
    what.setdefault("silence", args.silence)
    nice = args.monitor_nice
    if nice is None:
        nice = -5 if args.generator == "python" else 0
    return ScenarioOptions(
        cps=cps,
        workers=args.workers,
        drivers=args.drivers,
        share=args.share,
        supply_seconds=args.supply_seconds,
        register_timeout=args.register_timeout,
        storm_timeout=args.storm_timeout,
        response_timeout=args.response_timeout,
        monitor_nice=nice,
        generator=args.generator,
        pin=getattr(args, "pinning", None),
        spread=args.spread,
        central_cmd=command,
        pythonpath=str(Path(args.pythonpath).resolve()) if args.pythonpath else None,
        central_args=list(args.central_arg),
        progress_every=args.progress_every,
        label=args.label,
        tls=args.tls or not args.plain,
        sealed=args.sealed or not args.plain,
        **what,
    )


def _plan(args: argparse.Namespace) -> list[ScenarioOptions]:
    if args.command == "run":
        return [_options(args, args.cps, duration=args.duration, storm=args.storm)]
    if args.command == "storm":
        return [_options(args, args.cps, duration=args.duration, storm=True)]
    if args.command == "failover":
        return [
            _options(
                args, args.cps, duration=args.duration, storm=True, failover=True, db_url=args.db
            )
        ]
    if args.command == "soak":
        return [_options(args, args.cps, duration=args.duration, silence=0)]
    if args.command == "register":
        return [_options(args, args.cps, steady=False, silence=0)]
    largest = max(args.sizes)
    return [
        _options(args, n, duration=args.duration, storm=(n == largest)) for n in sorted(args.sizes)
    ]


def _generator(args: argparse.Namespace) -> str:
    """go or python: auto is go where the Go generator builds."""
    if args.generator == "python":
        return "python"
    try:
        go_generator.build()
    except GoMissing as exc:
        if args.generator == "go":
            raise
        say(f"evc-fleet: {exc}; using the Python generator")
        return "python"
    return "go"


def _pin(args: argparse.Namespace) -> Pinning | None:
    """Central on one core, the rest on the others: this process first, so the broker it
    starts runs there too."""
    if not args.pin:
        return None
    pinning = plan()
    if pinning is None:
        say("evc-fleet: fewer than 2 CPUs to run on: the processes are not pinned")
        return None
    pin_process(os.getpid(), pinning.rest)
    return dataclasses.replace(pinning, broker=not args.kafka)


def _check_kafka(args: argparse.Namespace, sasl: bool) -> None:
    """A given broker comes with what its mode needs, said before anything starts."""
    if args.kafka_secrets is not None and not args.kafka:
        raise FleetError("--kafka-secrets goes with --kafka (a broker evc-fleet did not start)")
    if not args.kafka:
        return
    if sasl and args.kafka_secrets is None:
        raise FleetError(
            f"--kafka {args.kafka}: the secured default needs a SASL_SSL broker and its "
            "secrets directory, --kafka-secrets DIR (scripts/kafka-local start --secrets DIR "
            "created its users and role files). For a PLAINTEXT broker pass --plain "
            "(--plain --tls --sealed keeps TLS on the monitor link and sealed values)"
        )
    if not sasl and args.kafka_secrets is not None:
        raise FleetError("--kafka-secrets is for a SASL_SSL broker: drop --plain, or add --sasl")


def run_scenarios(args: argparse.Namespace) -> int:
    raise_nofile()
    args.generator = _generator(args)
    args.pinning = _pin(args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = (args.run_dir or Path(".run") / "fleet" / stamp).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    out = args.out or run_dir / "results.json"
    plan = _plan(args)
    document: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["evc-fleet", *sys.argv[1:]]),
        "label": args.label,
        "machine": machine(),
        "scenarios": [],
    }
    sasl = args.sasl or not args.plain
    _check_kafka(args, sasl)
    broker = Broker(args.kafka, run_dir, sasl=sasl, given_secrets=args.kafka_secrets)
    document["broker"] = broker.label
    sampler = Sampler()
    sampler.start()
    try:
        bootstrap = broker.start()
        if broker.pid:
            sampler.track("broker", [broker.pid])
        say(f"evc-fleet: broker {bootstrap} ({broker.label}); run dir {run_dir}")
        for opts in plan:
            where = run_dir / f"n{opts.cps}"
            if args.command == "soak":
                scenario: Scenario = SoakScenario(
                    opts,
                    bootstrap,
                    where,
                    sampler,
                    say,
                    kafka=broker.access,
                    sample_every=args.sample_every,
                )
            else:
                scenario = Scenario(opts, bootstrap, where, sampler, say, kafka=broker.access)
            document["scenarios"].append(scenario.run())
            out.write_text(json.dumps(document, indent=2))
            if scenario.error is not None:
                break  # the sizes after it would die the same way
    finally:
        sampler.stop()
        broker.stop()
    say("")
    say(table(document["scenarios"]))
    say(f"\nresults: {out}")
    errors = [r["error"] for r in document["scenarios"] if r.get("error")]
    for error in errors:
        print(f"evc-fleet: error: {error}", file=sys.stderr, flush=True)
    if errors:
        return 2
    if isinstance(scenario, SoakScenario):
        return finish_soak(args, scenario, document, run_dir, say)
    return 0


def _on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the same clean-up as Ctrl+C: Central, workers, broker


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.command == "table":
            data = json.loads(args.results.read_text())
            say(table(data["scenarios"], markdown=args.markdown))
            return 0
        if args.command == "chart":
            from fleet.chart import draw_chart

            draw_chart([json.loads(p.read_text()) for p in args.results], args.output)
            say(f"evc-fleet: chart written to {args.output}")
            return 0
        return run_scenarios(args)
    except FleetError as exc:
        print(f"evc-fleet: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (OSError, ValueError, KeyError) as exc:
        print(f"evc-fleet: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("evc-fleet: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
