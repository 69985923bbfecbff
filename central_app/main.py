"""``EV_Central``: the control center process.

    EV_Central --port P --kafka HOST:PORT [--db URL] [--data-dir DIR] [--seed FILE]
               [--topic-prefix P] [--no-gui] [--geometry WxH+X+Y] [--log-level L]
               [--tls-cert FILE --tls-key FILE | --insecure]

The monitors' TCP port is TLS (docs/security.md, layer 4) with Central's certificate from the
secrets directory (``evc-secrets init``) unless ``--insecure`` says development mode.

Without ``--no-gui`` the Qt control center (``central_app.gui.run_control_center``) runs;
with no display it falls back to the console. Either way every log entry is also one line on
stdout, with a status line every ``--status-every`` seconds (the log file of ``make run``).
No traceback reaches the user: bad arguments are argparse errors, an unusable port or
database ends with a clear message and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from central_app import metrics
from central_app.config import CentralConfig, StartError
from central_app.console import ConsoleView, read_operator_commands
from central_app.db import Fenced
from central_app.db_options import add_db_options, db_url
from central_app.energy_check import DEFAULT_RATED_KW
from central_app.pricing import DEFAULT_PRICE
from central_app.runtime import CentralRuntime
from central_app.state_log import DEFAULT_STATE_HISTORY_DAYS
from central_app.store import DEFAULT_SEED
from wire import cli
from wire.errors import TlsConfigError
from wire.logs import setup_logging
from wire.metrics import add_metrics_option

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="EV_Central", description="EVCharging control center.")
    p.add_argument("--port", type=cli.port, required=True, help="TCP port for CP monitors")
    cli.add_kafka(p)  # --kafka, --topic-prefix
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    add_db_options(p)  # --db, --data-dir
    p.add_argument(
        "--seed", type=Path, default=DEFAULT_SEED, help="seed file used when the database is empty"
    )
    p.add_argument(
        "--default-price",
        type=cli.positive,
        default=DEFAULT_PRICE,
        help=f"EUR/kWh for CPs registered anew (default {DEFAULT_PRICE})",
    )
    p.add_argument(
        "--rated-kw",
        type=cli.positive,
        default=DEFAULT_RATED_KW,
        help="rated power of CPs whose record has none: no energy beyond it is billed "
        f"(default {DEFAULT_RATED_KW:g}; a simulation at --speed S needs power x S)",
    )
    p.add_argument(
        "--authorization-ttl",
        type=cli.positive,
        default=30.0,
        help="seconds to plug in (default 30)",
    )
    p.add_argument(
        "--ticket-grace",
        type=cli.positive,
        default=15.0,
        help="seconds to wait for an engine's final reading",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=cli.positive,
        default=3.0,
        help="seconds of silence before DISCONNECTED",
    )
    p.add_argument(
        "--state-history-days",
        type=cli.non_negative,
        default=DEFAULT_STATE_HISTORY_DAYS,
        help="days of CP state changes kept for the history's availability and faults "
        f"(default {DEFAULT_STATE_HISTORY_DAYS:g}; 0 keeps them all)",
    )
    p.add_argument(
        "--central-id",
        default=None,
        help="this Central's name in central_alive and the pair's leader row "
        "(default central@HOSTNAME:PORT, so the two of a pair differ even on one host)",
    )
    p.add_argument(
        "--no-pair",
        action="store_true",
        help="on PostgreSQL or MariaDB, serve without the active/standby lock (one Central only)",
    )
    p.add_argument("--city", type=Path, default=None, help="city map file for the control center")
    cli.add_server_cert(p, "tls", "central", "Central's TLS certificate for the monitor link")
    cli.add_insecure(p)
    cli.add_kafka_security(p, "central")
    p.add_argument("--no-gui", action="store_true", help="run headless with a console log")
    cli.add_geometry(p)
    add_metrics_option(p)
    p.add_argument(
        "--status-every", type=cli.positive, default=5.0, help="console status line period (s)"
    )
    cli.add_log_level(p)
    return p


def config_from(args: argparse.Namespace) -> CentralConfig:
    return CentralConfig(
        port=args.port,
        kafka=args.kafka,
        db_url=db_url(args),
        host=args.host,
        topic_prefix=args.topic_prefix,
        seed=args.seed,
        default_price=args.default_price,
        rated_kw=args.rated_kw,
        heartbeat_timeout=args.heartbeat_timeout,
        authorization_ttl=args.authorization_ttl,
        ticket_grace=args.ticket_grace,
        state_history_days=args.state_history_days,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        insecure=args.insecure,
        kafka_security=args.kafka_security,
        pair=False if args.no_pair else None,
        **({"central_id": args.central_id} if args.central_id else {}),
    )


def resolve_tls(args: argparse.Namespace) -> str | None:
    """Fill in the default TLS files; the line to print when there are none (exit 2)."""
    if args.insecure:
        return None
    defaulted = args.tls_cert is None
    try:
        args.tls_cert, args.tls_key = cli.server_cert(args, "tls", "central")
    except TlsConfigError as exc:
        return str(exc)
    if defaulted and not (args.tls_cert.exists() and args.tls_key.exists()):
        return (
            f"no TLS certificate for the monitor link: {args.tls_cert} does not exist. "
            "Run `make run` or `evc-secrets init` to create the secrets directory, pass "
            "--tls-cert FILE --tls-key FILE, or --insecure for development (plain TCP)."
        )
    return None


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def say(text: str, *, err: bool = False) -> None:
    """Print for the user; a closed stdout/stderr (e.g. piped into ``head``) is not an error."""
    stream = sys.stderr if err else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


# One reader of the operator's stdin per process (not one per runtime of a pair's restarts).
_operator_reading: list[ConsoleView] = []


def run_headless(runtime: CentralRuntime, console: ConsoleView, every: float, stop) -> int:  # type: ignore[no-untyped-def]
    """Print the status line every ``every`` s until ``stop`` or the runtime is deposed."""
    if sys.stdin is not None and not sys.stdin.closed and not _operator_reading:
        _operator_reading.append(console)
        threading.Thread(
            target=read_operator_commands,
            args=(console, sys.stdin),
            name="central-operator-stdin",
            daemon=True,
        ).start()
    next_status = time.monotonic() + every
    try:
        while not stop.wait(0.25) and not runtime.pair.deposed.is_set():
            if time.monotonic() >= next_status:
                next_status += every
                console.print_status()
    except KeyboardInterrupt:
        pass
    return 0


@contextlib.contextmanager
def status_lines(console: ConsoleView, every: float) -> Iterator[None]:
    """The headless status line every ``every`` s on a thread, while the window runs."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            console.print_status()

    thread = threading.Thread(target=run, name="central-status-line", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def stop_on_signals(current: list[CentralRuntime]) -> threading.Event:
    """SIGTERM/SIGINT set the returned event (and end a standby's wait)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        for runtime in current:
            runtime.pair.abandon()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    args.kafka_security = cli.kafka_security(args, "central", "EV_Central")  # may exit 2
    problem = resolve_tls(args)
    if problem is not None:
        say(f"EV_Central: error: {problem}", err=True)
        return 2
    if args.insecure:
        cli.warn_insecure("EV_Central")
    use_gui = not args.no_gui
    if use_gui and not display_available():
        say(
            "EV_Central: no display (DISPLAY/WAYLAND_DISPLAY and QT_QPA_PLATFORM unset): running headless."
        )
        use_gui = False
    run_control_center = None
    if use_gui:
        try:
            from central_app.gui.app import run_control_center
        except Exception as exc:  # the GUI is optional; headless still serves the network
            say(f"EV_Central: control center unavailable ({exc}); running headless.")
            use_gui = False
    current: list[CentralRuntime] = []
    stop = stop_on_signals(current) if not use_gui else threading.Event()
    metrics.serve(args, current)  # --metrics-port: /metrics, /healthz, /readyz (may exit 2)
    while True:  # a deposed active of a pair starts again, as the standby
        runtime = CentralRuntime(config_from(args))
        current[:] = [runtime]
        console = ConsoleView(runtime)
        # one line per event on stdout in every mode: with the window too, it is the log
        # (central.log under make run), status line included
        runtime.add_listener(console)
        # a paired Central's window opens at once, read-only while standby (gui.pair starts it)
        gui_starts = use_gui and run_control_center is not None and runtime.config.paired
        try:
            if not gui_starts:
                runtime.start()
        except StartError as exc:
            runtime.stop()
            if stop.is_set():
                return 0
            say(f"EV_Central: error: {exc}", err=True)
            return 2
        except Fenced as exc:  # the partner took the lock back while this one took office
            runtime.stop()
            if stop.is_set():
                return 0
            say(f"EV_Central: deposed while taking office ({exc}); starting again as the standby")
            continue
        try:
            if use_gui and run_control_center is not None:
                start = runtime.start if gui_starts else None
                with status_lines(console, args.status_every):
                    return int(run_control_center(runtime, args, start) or 0)
            say(f"EV_Central running on port {runtime.port} (Ctrl+C to stop; type 'help').")
            code = run_headless(runtime, console, args.status_every, stop)
        finally:
            say("EV_Central: stopping…")
            runtime.stop()
            say("EV_Central: stopped.")
        if stop.is_set() or not runtime.pair.deposed.is_set():
            return code
        say("EV_Central: stepped down; starting again as the standby of the pair")


if __name__ == "__main__":
    sys.exit(main())
