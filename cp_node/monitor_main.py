"""``EV_CP_M``: the charging point's monitor.

    EV_CP_M --engine HOST:PORT --central HOST:PORT --cp-id ID [--location TEXT] [--x X --y Y]
            [--credentials-dir DIR] [--enroll-token TOKEN|@FILE] [--central-ca FILE]
            [--curve-dir DIR] [--insecure] [--no-gui] [--log-level L]

The snake-case aliases of the original brief work too: ``--engine_ip H --engine_port P
--central_ip H --central_port P --cp_id ID``. The monitor has no window of its own: its view
(Central link, admin state) reaches the technician through the engine's panel, carried by
HEALTH; here it prints one line per change.

The link to Central is TLS: Central's certificate must be signed by ``--central-ca`` (the
secrets directory's ``ca.pem`` by default) and name the ``--central`` host; otherwise the
monitor says so and does not talk to it (docs/security.md, layer 4). The engine link is
ZeroMQ with CURVE: the monitor authenticates with its CP's keypair and checks the engine's
public key, both in ``--curve-dir`` (its own keypair is created there when missing).
``--insecure`` is plain TCP and plain ZeroMQ, for development.

A secured Central registers a CP that has no credential yet only with the one-time
enrollment token the operator issued for it (``evc-admin cp enroll ID --token-file F``):
``--enroll-token @F`` (or ``$EVC_ENROLL_TOKEN``). The file is read before each REGISTER, so a
token dropped there later is used at the next attempt (docs/cp.md, "Enrollment").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from cp_core.credentials import CredentialStore
from cp_core.enrollment import ENV as ENROLL_ENV
from cp_core.enrollment import EnrollToken
from cp_node.metrics import serve_monitor
from cp_node.monitor_service import MonitorService
from wire import cli
from wire.curve import CurveClient, CurveKeys, default_curve_dir
from wire.errors import CurveKeyError, TlsConfigError
from wire.logs import setup_logging
from wire.metrics import add_metrics_option
from wire.pki import Secrets, default_dir
from wire.tls import client_context

DEFAULT_CREDENTIALS = Path.home() / ".evcharging" / "credentials"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="EV_CP_M",
        description="EVCharging charging point monitor",
        epilog="Aliases of the original brief: --engine_ip H --engine_port P "
        "--central_ip H --central_port P --cp_id ID.",
    )
    p.add_argument(
        "--engine", type=cli.host_and_port, metavar="HOST:PORT", help="the engine's HEALTH"
    )
    p.add_argument("--engine_ip", "--engine-ip", dest="engine_ip", help=argparse.SUPPRESS)
    p.add_argument(
        "--engine_port", "--engine-port", dest="engine_port", type=cli.port, help=argparse.SUPPRESS
    )
    p.add_argument(
        "--central",
        type=cli.host_and_ports,
        metavar="HOST:PORT[,HOST:PORT]",
        help="EV_Central's TCP port; an active/standby pair as two, the active one is used",
    )
    p.add_argument("--central_ip", "--central-ip", dest="central_ip", help=argparse.SUPPRESS)
    p.add_argument(
        "--central_port",
        "--central-port",
        dest="central_port",
        type=cli.port,
        help=argparse.SUPPRESS,
    )
    p.add_argument("--cp-id", "--cp_id", dest="cp_id", required=True, help="this CP's id")
    p.add_argument("--location", default="", help="street address shown on Central's map")
    p.add_argument("--x", type=float, default=None, help="map x (0..1000)")
    p.add_argument("--y", type=float, default=None, help="map y (0..700)")
    p.add_argument(
        "--credentials-dir",
        "--credentials_dir",
        dest="credentials_dir",
        default=os.environ.get("EVC_CREDENTIALS_DIR", str(DEFAULT_CREDENTIALS)),
        help=f"where <cp_id>.cred is kept (default {DEFAULT_CREDENTIALS})",
    )
    p.add_argument(
        "--enroll-token",
        "--enroll_token",
        dest="enroll_token",
        metavar="TOKEN|@FILE",
        type=_enroll_token,
        default=os.environ.get(ENROLL_ENV, ""),
        help="the one-time enrollment token the operator issued for this CP "
        "(evc-admin cp enroll ID --token-file FILE); @FILE is read before each REGISTER, so a "
        f"file dropped later is used at the next attempt (default ${ENROLL_ENV}); only needed "
        "while the CP has no credential",
    )
    p.add_argument(
        "--central-ca",
        "--central_ca",
        dest="central_ca",
        type=Path,
        default=None,
        help="CA certificate that signs Central's (default ca.pem in the secrets directory, "
        "$EVC_SECRETS or ~/.config/evcharging/secrets)",
    )
    cli.add_curve_dir(p)
    cli.add_insecure(p)
    add_metrics_option(p)
    p.add_argument(
        "--no-gui", action="store_true", help="accepted; the monitor prints status lines"
    )
    cli.add_log_level(p)
    return p


def _enroll_token(text: str) -> EnrollToken:
    try:
        return EnrollToken.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _resolve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    for name in ("engine", "central"):
        if getattr(args, name) is None:
            host, port = getattr(args, f"{name}_ip"), getattr(args, f"{name}_port")
            if host is None or port is None:
                parser.error(f"--{name} HOST:PORT (or --{name}_ip and --{name}_port) is required")
            setattr(args, name, (host, port) if name == "engine" else [(host, port)])
    if not args.cp_id or "#" in args.cp_id or any(ord(c) < 0x21 for c in args.cp_id):
        parser.error("--cp-id must be non-empty, without '#', spaces or control characters")


def open_curve(curve_dir: Path | None, cp_id: str) -> CurveClient:
    """The monitor's CURVE keys (its keypair created when missing); exits 2 with one line.
    The engine's public key may come later (an engine not started yet): said, not fatal."""
    keys = CurveKeys(curve_dir or default_curve_dir())
    try:
        client, created = CurveClient.open(keys, cp_id)
    except CurveKeyError as exc:
        print(
            f"EV_CP_M: error: {exc}. Fix it (a deleted keypair is created anew; an engine on "
            "another host then needs the new monitor.key), pass --curve-dir DIR, or "
            "--insecure for development (docs/security.md)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None
    if created:
        print(
            f"EV_CP_M: created the CURVE keypair of {cp_id}'s monitor in "
            f"{keys.cp_dir(cp_id)} (an engine on another host needs a copy of monitor.key)",
            flush=True,
        )
    try:
        keys.engine_public_key()
    except CurveKeyError as exc:
        print(f"EV_CP_M: warning: {exc}; the engine counts as unreachable until then", flush=True)
    return client


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _resolve(args, parser)
    setup_logging(args.log_level)
    tls = None
    if args.insecure:
        cli.warn_insecure("EV_CP_M")
    else:
        ca = args.central_ca or Secrets(default_dir()).ca_cert
        try:
            tls = client_context(ca)
        except TlsConfigError as exc:
            print(
                f"EV_CP_M: error: {exc}. Copy the network's ca.pem here (docs/deploy.md) and "
                "pass --central-ca FILE, or --insecure for development (plain TCP).",
                file=sys.stderr,
                flush=True,
            )
            return 2
    curve = None if args.insecure else open_curve(args.curve_dir, args.cp_id)  # may exit 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service = MonitorService(
        cp_id=args.cp_id,
        engine=args.engine,
        central=args.central,
        credentials=CredentialStore(args.credentials_dir),
        location=args.location,
        x=args.x,
        y=args.y,
        say=lambda line: print(line, flush=True),
        tls=tls,
        curve=curve,
        enroll_token=args.enroll_token,
    )
    service.say(
        f"Monitor started: engine tcp://{args.engine[0]}:{args.engine[1]}"
        f"{' (CURVE)' if curve is not None else ' (plain ZeroMQ, --insecure)'}, "
        f"Central {', '.join(f'{h}:{p}' for h, p in args.central)}"
        f"{' (TLS)' if tls is not None else ' (plain TCP, --insecure)'}"
    )
    service.start()
    try:
        serve_monitor(args, service)  # --metrics-port: /metrics, /healthz, /readyz (may exit 2)
        stop.wait()
    finally:
        service.close()
        service.say("Monitor stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
