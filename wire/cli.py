"""Argument types shared by every program's command line.

Addresses, ports and numbers are checked the same way everywhere, so a typo gets the same
clear argparse error from EV_Central, EV_CP_E, EV_CP_M and EV_Driver.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wire.kafka.security import KafkaSecurity


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def host_and_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets: ``[::1]:9092``)."""
    host, sep, number = text.rpartition(":")
    if not sep or not host or not number.isdigit() or any(c.isspace() for c in host):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, port(number)


def host_and_ports(text: str) -> list[tuple[str, int]]:
    """``HOST:PORT[,HOST:PORT...]`` (the two Centrals of an active/standby pair)."""
    return [host_and_port(item) for item in text.split(",")]


def host_port(text: str) -> str:
    """``HOST:PORT`` checked, kept as text (a Kafka bootstrap address); a cluster's brokers
    as ``HOST:PORT,HOST:PORT,...`` (any one that answers is enough to start)."""
    for item in text.split(","):
        host_and_port(item)
    return text


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def non_negative(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def geometry(text: str) -> tuple[int, int, int, int]:
    """``WIDTHxHEIGHT+X+Y`` (X11's form, as ``xterm -geometry``): the window's size and the
    screen position of its top-left corner, as (width, height, x, y)."""
    size, plus, place = text.partition("+")
    width, times, height = size.lower().partition("x")
    x, plus2, y = place.partition("+")
    numbers = (width, height, x, y)
    if not (times and plus and plus2) or not all(n.isdigit() for n in numbers):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT+X+Y, got {text!r}")
    w, h, left, top = map(int, numbers)
    if not (w and h):
        raise argparse.ArgumentTypeError(f"the size must not be 0: {text!r}")
    return w, h, left, top


# --- options every Kafka program declares alike ----------------------------------------------

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_kafka(parser: argparse.ArgumentParser) -> None:
    """``--kafka HOST:PORT`` (required) and ``--topic-prefix P`` (default ``$EVC_TOPIC_PREFIX``,
    the namespace tests and ``make run`` give each network)."""
    parser.add_argument(
        "--kafka",
        required=True,
        type=host_port,
        metavar="HOST:PORT",
        help="Kafka bootstrap server",
    )
    add_topic_prefix(parser)


def add_topic_prefix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topic-prefix",
        default=os.environ.get("EVC_TOPIC_PREFIX", ""),
        metavar="P",
        help="Kafka topic namespace (default $EVC_TOPIC_PREFIX, else none)",
    )


def add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=LOG_LEVELS,
        type=str.upper,
        metavar="L",
        help="DEBUG, INFO, WARNING (default) or ERROR",
    )


def add_geometry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--geometry",
        type=geometry,
        default=None,
        metavar="WxH+X+Y",
        help="the window's size and place on the screen, e.g. 960x1040+0+0 "
        "(make run tiles its windows with it; default: the window system decides)",
    )


INSECURE_HELP = (
    "development mode: no TLS, no Kafka credentials, no CURVE (plain TCP, PLAINTEXT Kafka, "
    "plain ZeroMQ); anyone on the network can read and forge traffic"
)


def add_insecure(parser: argparse.ArgumentParser) -> None:
    """The one ``--insecure`` switch every program shares (docs/security.md); idempotent."""
    if any("--insecure" in action.option_strings for action in parser._actions):
        return
    parser.add_argument("--insecure", action="store_true", help=INSECURE_HELP)


def warn_insecure(program: str) -> None:
    """Say loudly, on stderr, that this program runs without security."""
    bar = "!" * 78
    print(
        f"{bar}\n{program}: --insecure: DEVELOPMENT MODE, security is OFF (no TLS, no Kafka "
        f"credentials, no CURVE).\nAnyone who can reach this network can read and forge its traffic. "
        f"Never use it in production.\n{bar}",
        file=sys.stderr,
        flush=True,
    )


# --- CURVE keys of the monitor ⇄ engine link ------------------------------------------------


def add_curve_dir(parser: argparse.ArgumentParser) -> None:
    """``--curve-dir DIR``: where EV_CP_E and EV_CP_M keep the engine link's CURVE keys."""
    parser.add_argument(
        "--curve-dir",
        "--curve_dir",
        dest="curve_dir",
        type=Path,
        metavar="DIR",
        default=None,
        help="CURVE keys of the monitor-engine link (default: curve/ in $EVC_SECRETS or "
        "~/.config/evcharging/secrets); this program creates its own keypair there if missing. "
        "Engine and monitor on different hosts: each needs the other's public key "
        "(docs/security.md)",
    )


# --- Kafka credentials ----------------------------------------------------------------------

KAFKA_INSECURE_WARNING = (
    "WARNING: --insecure: Kafka without TLS or authentication — anyone who reaches the "
    "broker can command charging points and read drivers' notices. For development only."
)
_warned: set[str] = set()


def warn_once(text: str) -> None:
    """Print ``text`` on stderr, once per process however often it is asked."""
    if text in _warned:
        return
    _warned.add(text)
    print(text, file=sys.stderr, flush=True)


def add_kafka_security(parser: argparse.ArgumentParser, role: str) -> None:
    """``--kafka-credentials FILE`` (env ``EVC_KAFKA_CREDENTIALS``) and ``--insecure``."""
    import os

    env = os.environ.get("EVC_KAFKA_CREDENTIALS")
    parser.add_argument(
        "--kafka-credentials",
        type=Path,
        metavar="FILE",
        default=Path(env) if env else None,
        help=(
            f"Kafka role file (default: env EVC_KAFKA_CREDENTIALS, else kafka-{role}.properties "
            "in $EVC_SECRETS or ~/.config/evcharging/secrets)"
        ),
    )
    add_insecure(parser)


def kafka_security(args: argparse.Namespace, role: str, prog: str) -> KafkaSecurity | None:
    """The program's Kafka security from ``add_kafka_security``'s options; ``None`` with
    ``--insecure`` or a role file saying ``security.protocol=PLAINTEXT`` (after the
    warning). A missing or unusable file ends the program with one
    line on stderr and exit code 2."""
    from wire.errors import KafkaCredentialsError
    from wire.kafka.security import load_security
    from wire.pki import Secrets, default_dir

    if getattr(args, "insecure", False):
        warn_once(KAFKA_INSECURE_WARNING)
        return None
    path: Path | None = args.kafka_credentials
    if path is None:
        path = Secrets(default_dir()).kafka_role(role)
        if not path.exists():
            _fail(
                prog,
                f"no Kafka credentials: {path} does not exist. Run `make run` or "
                "`scripts/kafka-local start` (they create it), or pass --kafka-credentials "
                "FILE, or --insecure for a development broker",
            )
    try:
        security = load_security(path.expanduser())
    except KafkaCredentialsError as exc:
        _fail(prog, str(exc))
        raise  # (not reached: _fail exits)
    if security is None:  # a role file that says security.protocol=PLAINTEXT
        warn_once(KAFKA_INSECURE_WARNING)
    return security


def _fail(prog: str, text: str) -> None:
    print(f"{prog}: error: {text}", file=sys.stderr, flush=True)
    raise SystemExit(2)


# --- a server's TLS certificate -------------------------------------------------------------


def add_server_cert(parser: argparse.ArgumentParser, option: str, name: str, what: str) -> None:
    """``--OPTION-cert FILE`` and ``--OPTION-key FILE``: the certificate this server shows
    (``what``) and its private key, by default ``NAME.pem`` and ``NAME.key`` of the secrets
    directory (``server_cert`` reads them)."""
    parser.add_argument(
        f"--{option}-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"{what} (default {name}.pem in the secrets directory, $EVC_SECRETS or "
        "~/.config/evcharging/secrets)",
    )
    parser.add_argument(
        f"--{option}-key",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"its private key (default {name}.key there)",
    )


def server_cert(args: argparse.Namespace, option: str, name: str) -> tuple[Path, Path]:
    """The certificate and key ``add_server_cert``'s options name, or, when neither is named,
    the secrets directory's ``NAME.pem`` and ``NAME.key`` (whether they exist is the caller's
    to say: each program tells its own way to make them). Raises ``TlsConfigError`` when only
    one of the two is named."""
    from wire.errors import TlsConfigError
    from wire.pki import Secrets, default_dir

    cert: Path | None = getattr(args, f"{option}_cert")
    key: Path | None = getattr(args, f"{option}_key")
    if (cert is None) != (key is None):
        raise TlsConfigError(
            f"--{option}-cert and --{option}-key go together (or neither, for the secrets "
            "directory's)"
        )
    if cert is None or key is None:
        secrets = Secrets(default_dir())
        return secrets.cert(name), secrets.key(name)
    return cert, key
