"""``EV_Driver``: the driver app (Qt client by default, a console with ``--no-gui``).

    EV_Driver --kafka HOST:PORT --driver-id ID [--services FILE] [--data-dir DIR]
              [--topic-prefix P] [--request-timeout 10] [--pause 4] [--no-gui]
              [--geometry WxH+X+Y] [--log-level L] [--driver-key FILE] [--insecure]

Secure by default: requests are sealed and notices opened with the driver's key
(``--driver-key``, default ``driver-<id>.key`` in the secrets directory); without a usable key
the app says so in one line and exits 2.

Exit codes: 0 when the services file ran to its end (or, without a file, stdin ended and
the last request finished), 1 when stopped early (Ctrl+C), 2 for bad arguments, an
unreadable services file or no usable driver key. Errors are printed as one clear line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from driver_app.console import ConsoleListener
from driver_app.driver_key import DriverKeyError, default_key_file, load_driver_key
from driver_app.runtime import DriverConfig, DriverRuntime
from driver_app.services import ServiceEntry, ServicesFileError, load_services
from wire import cli
from wire.kafka.topics import Topics
from wire.logs import setup_logging

log = logging.getLogger(__name__)


def _driver_id(text: str) -> str:
    text = text.strip()
    if not text or "#" in text or any(ord(c) < 0x20 for c in text):
        raise argparse.ArgumentTypeError(f"not a valid driver id: {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="EV_Driver", description="EVCharging driver app: find a charging point, charge."
    )
    cli.add_kafka(parser)  # --kafka, --topic-prefix
    parser.add_argument(
        "--driver-id", "--driver_id", dest="driver_id", required=True, type=_driver_id
    )
    parser.add_argument("--services", type=Path, metavar="FILE", help="CP ids, one per line")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where the ticket history is kept (default ./.run/driver-<id>)",
    )
    parser.add_argument(
        "--request-timeout",
        type=cli.positive,
        default=10.0,
        metavar="S",
        help="seconds without an answer before a request fails (default 10)",
    )
    parser.add_argument(
        "--pause",
        type=cli.non_negative,
        default=4.0,
        metavar="S",
        help="seconds between the requests of a services file (default 4)",
    )
    parser.add_argument(
        "--driver-key",
        type=Path,
        metavar="FILE",
        help="this driver's key file (default driver-<id>.key in the secrets directory)",
    )
    parser.add_argument("--no-gui", action="store_true", help="console instead of the window")
    cli.add_geometry(parser)
    cli.add_insecure(parser)
    cli.add_kafka_security(parser, "driver")
    cli.add_log_level(parser)
    return parser


def config_from(args: argparse.Namespace, key: bytes | None = None) -> DriverConfig:
    data_dir = args.data_dir or Path(".run") / f"driver-{args.driver_id}"
    return DriverConfig(
        key=key,
        bootstrap=args.kafka,
        driver_id=args.driver_id,
        topics=Topics(args.topic_prefix),
        data_dir=data_dir,
        request_timeout_s=args.request_timeout,
        pause_s=args.pause,
        security=getattr(args, "kafka_security", None),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    if logging.getLogger().level >= logging.WARNING:
        # While the broker is down, librdkafka and the wire adapters log every reconnect
        # attempt; the driver already says "Cannot reach CENTRAL (Kafka broker unreachable)"
        # in one line, so keep the console readable unless --log-level INFO/DEBUG is asked.
        logging.getLogger("confluent_kafka").setLevel(logging.CRITICAL)
        logging.getLogger("wire.kafka").setLevel(logging.ERROR)
    entries: list[ServiceEntry] | None = None
    if args.services is not None:
        try:
            entries = load_services(args.services)
        except ServicesFileError as exc:
            print(f"EV_Driver: {exc}", file=sys.stderr)
            return 2
    args.kafka_security = cli.kafka_security(args, "driver", "EV_Driver")  # may exit 2
    key = None
    if args.insecure:
        cli.warn_insecure("EV_Driver")
    else:
        try:
            key = load_driver_key(
                args.driver_key or default_key_file(args.driver_id), args.driver_id
            )
        except DriverKeyError as exc:
            print(f"EV_Driver: {exc}", file=sys.stderr)
            return 2
    config = config_from(args, key)
    try:
        if args.no_gui:
            return run_console(config, args.services, entries)
        from driver_app.gui.app import run_gui

        return run_gui(config, args.services, entries, geometry=args.geometry)
    except KeyboardInterrupt:
        return 1


def run_console(
    config: DriverConfig, services: Path | None, entries: list[ServiceEntry] | None
) -> int:
    listener = ConsoleListener(config.driver_id)
    runtime = DriverRuntime(config, listener)
    quit_now = threading.Event()
    interrupts = 0

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if signum == signal.SIGINT and interrupts == 1 and entries is not None:
            listener.line("stopping after the current request (Ctrl+C again to quit now)")
            runtime.stop_after_current()
        else:
            quit_now.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    listener.line(f"EV_Driver — Kafka {config.bootstrap}, history in {config.data_dir}")
    runtime.start()
    try:
        if entries is not None:
            assert services is not None
            runtime.run_file(str(services), entries)
            while not quit_now.is_set() and not listener.run_finished.wait(0.2):
                pass
            view = listener.run_view
            done = view is not None and view.finished and not view.stop_requested
            return 0 if done and not quit_now.is_set() else 1
        return _stdin_loop(runtime, listener, quit_now)
    finally:
        runtime.stop()


def _stdin_loop(
    runtime: DriverRuntime, listener: ConsoleListener, quit_now: threading.Event
) -> int:
    """Each stdin line is a CP id to request; at end of input, wait for the charge to end."""
    listener.line("type a CP id and Enter to ask for a charge (Ctrl+D to finish)")
    eof = threading.Event()

    def read() -> None:
        for raw in sys.stdin:
            cp_id = raw.split("#", 1)[0].strip()
            if cp_id:
                runtime.request(cp_id)
        eof.set()

    threading.Thread(target=read, name="driver-stdin", daemon=True).start()
    while not quit_now.wait(0.2):
        if eof.is_set():
            busy = runtime.submit(lambda core: core.busy)
            try:
                if not busy.result(timeout=5):
                    return 0
            except TimeoutError:
                pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
