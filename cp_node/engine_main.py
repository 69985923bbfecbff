"""``EV_CP_E``: the charging point's engine (simulated charger hardware).

EV_CP_E --kafka HOST:PORT --port P [--bind ADDR] [--power-kw 22] [--speed 1.0] [--autopilot]
        [--plug-delay S] [--unplug-after S] [--unplug-kwh K] [--auth-timeout S]
        [--journal-dir DIR] [--manual-driver ID] [--topic-prefix P] [--no-gui]
        [--geometry WxH+X+Y] [--curve-dir DIR] [--log-level L] [--insecure]

Secure by default: Central's commands are obeyed only when sealed with this CP's key (handed
over by the monitor) and not replayed; events are sealed with it (docs/security.md). The
monitor's link is ZeroMQ with CURVE: only a monitor whose public key is in ``--curve-dir``
gets a HEALTH or a KEY through. It listens on the loopback interface unless ``--bind`` says
otherwise (a monitor on another host).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from cp_node.autopilot import AutopilotPolicy
from cp_node.engine_service import EngineService
from cp_node.engine_state import EngineConfig
from cp_node.metrics import serve_engine
from wire import cli
from wire.curve import CurveKeys, CurveServer, default_curve_dir
from wire.errors import CurveKeyError, WireError
from wire.kafka.topics import Topics
from wire.logs import setup_logging
from wire.metrics import add_metrics_option

DEFAULT_JOURNAL = Path.home() / ".evcharging" / "journal"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="EV_CP_E", description="EVCharging charging point engine")
    cli.add_kafka(p)  # --kafka, --topic-prefix
    p.add_argument(
        "--port", required=True, type=cli.port, help="port for the monitor's HEALTH (ZeroMQ)"
    )
    p.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="interface for the HEALTH socket (default 127.0.0.1: only a monitor on this host "
        "reaches it; 0.0.0.0 or this host's address for a monitor on another host, with the "
        "CURVE keys exchanged, docs/security.md)",
    )
    p.add_argument("--power-kw", type=float, default=22.0, help="rated power in kW (default 22)")
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulation speed factor for energy (default 1)"
    )
    p.add_argument("--autopilot", action="store_true", help="plug in and unplug by itself")
    p.add_argument("--plug-delay", type=float, default=2.0, help="autopilot: s before plugging in")
    p.add_argument("--unplug-after", type=float, default=10.0, help="autopilot: s of supply")
    p.add_argument("--unplug-kwh", type=float, default=None, help="autopilot: kWh to deliver")
    p.add_argument(
        "--auth-timeout",
        type=float,
        default=30.0,
        help="real seconds to plug in after an authorization (default 30)",
    )
    p.add_argument(
        "--journal-dir",
        default=os.environ.get("EVC_JOURNAL_DIR", str(DEFAULT_JOURNAL)),
        help=f"where the running supply is journaled (default {DEFAULT_JOURNAL})",
    )
    p.add_argument(
        "--manual-driver", default="TECH-1", help="driver id for a manual supply (default TECH-1)"
    )
    p.add_argument("--no-gui", action="store_true", help="console keys instead of the panel")
    cli.add_geometry(p)
    cli.add_curve_dir(p)
    cli.add_insecure(p)
    cli.add_kafka_security(p, "engine")
    add_metrics_option(p)
    cli.add_log_level(p)
    return p


def open_curve(curve_dir: Path | None) -> CurveServer:
    """The engine's CURVE keys (its keypair created when missing); exits 2 with one line."""
    keys = CurveKeys(curve_dir or default_curve_dir())
    try:
        server, created = CurveServer.open(keys)
    except CurveKeyError as exc:
        print(
            f"EV_CP_E: error: {exc}. Fix it (a deleted keypair is created anew; monitors on "
            "other hosts then need the new engine.key), pass --curve-dir DIR, or --insecure "
            "for development (docs/security.md)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None
    if created:
        print(
            f"EV_CP_E: created the engines' CURVE keypair in {keys.root} (a monitor on another "
            f"host needs a copy of {keys.engine_public.name})",
            flush=True,
        )
    return server


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.insecure:
        cli.warn_insecure("EV_CP_E")
    security = cli.kafka_security(args, "engine", "EV_CP_E")  # may exit 2
    if args.speed <= 0 or args.power_kw <= 0:
        print("EV_CP_E: --speed and --power-kw must be positive", file=sys.stderr)
        return 2
    config = EngineConfig(power_kw=args.power_kw, speed=args.speed, auth_timeout=args.auth_timeout)
    autopilot = (
        AutopilotPolicy(args.plug_delay, args.unplug_after, args.unplug_kwh)
        if args.autopilot
        else None
    )
    curve = None if args.insecure else open_curve(args.curve_dir)  # may exit 2
    try:
        service = EngineService(
            bootstrap=args.kafka,
            port=args.port,
            topics=Topics(args.topic_prefix),
            config=config,
            autopilot=autopilot,
            journal_dir=args.journal_dir,
            bind=args.bind,
            manual_driver=args.manual_driver,
            insecure=args.insecure,
            security=security,
            curve=curve,
        )
    except WireError as exc:
        print(f"EV_CP_E: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    try:
        serve_engine(args, service)  # --metrics-port: /metrics, /healthz, /readyz (may exit 2)
        if args.no_gui:
            from cp_node.console import run_console

            run_console(service, stop)
        else:
            from cp_node.panel import run_panel

            run_panel(
                service, stop, title_hint=f"port {service.responder.port}", geometry=args.geometry
            )
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
