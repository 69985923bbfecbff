"""``EV_OCPP``: the OCPP 1.6J and 2.0.1 gateway (docs/ocpp.md).

    EV_OCPP --port P --central HOST:PORT[,HOST:PORT] --kafka HOST:PORT [--host H] [--auto-register]
            [--heartbeat-interval S] [--passwords FILE] [--credentials-dir DIR]
            [--enroll-tokens DIR] [--state-dir DIR] [--gateway-id ID] [--topic-prefix P]
            [--central-ca FILE] [--kafka-credentials FILE | --insecure] [--log-level L]
            [--security-profile 1|2|3] [--ocpp-cert FILE --ocpp-key FILE] [--ocpp-ca FILE]
            [--connectors ID=N | --connectors N ...]
            [--local-list FILE]

Towards the chargers (``ocpp_gateway.profiles``): OCPP security profile 2 by default —
``wss://`` with the server certificate ``ocpp.pem``/``ocpp.key`` of the secrets directory
(issued by the project's private CA, ``evc-secrets init``) or ``--ocpp-cert``/``--ocpp-key``,
and each charger's basic-auth password; 3: the chargers present client certificates issued
by the CA (``--ocpp-ca``, default the secrets directory's ``ca.pem``; ``evc-admin ocpp cert
ID``) naming their charge point id; 1: plain ``ws://`` with the password (the default with
``--insecure``).

Security as EV_CP_M and EV_CP_E: Central's TLS certificate checked against ``--central-ca``
(the secrets directory's ``ca.pem`` by default); Kafka with the engine role's credentials
(``kafka-engine.properties``), commands opened and events sealed with each CP's key.
``--insecure``: plain TCP, PLAINTEXT Kafka, plain values (development only).

A secured Central registers a charger that has no credential yet (or a revoked one) only
with the operator's one-time enrollment token: ``--enroll-tokens DIR`` holds one
``<charger id>.token`` per charger (``evc-admin cp enroll ID --token-file DIR/ID.token``),
read when that charger's REGISTER is about to leave, so a token dropped there is used at
the charger's next boot without a restart (docs/ocpp.md).

Each connector of a charger is a CP at Central: a charger with one connector (the default)
is the CP of its own id, one declared with ``--connectors ID=N`` (N ≥ 2) the CPs ``ID-1`` …
``ID-N``, each with its own token file, credential and tickets (``ocpp_gateway.connectors``).

``--local-list FILE`` (default ``ocpp-local-list.txt`` of the secrets directory, used when it
exists; ``evc-admin ocpp local-list`` writes it): the drivers' ids sent to each charger after
its accepted BootNotification, for the charger's local authorization list.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path

from cp_core import local_list
from cp_core.passwords import PasswordFile, default_path
from ocpp_gateway.connectors import ConnectorCounts, connectors_option
from ocpp_gateway.gateway import Gateway
from ocpp_gateway.metrics import serve_gateway
from ocpp_gateway.profiles import SecurityProfile
from wire import cli
from wire.aio import new_event_loop
from wire.errors import TlsConfigError
from wire.kafka.topics import Topics
from wire.logs import setup_logging
from wire.metrics import add_metrics_option
from wire.pki import Secrets, default_dir
from wire.tls import client_context, server_context

DEFAULT_HOME = Path.home() / ".evcharging" / "ocpp"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="EV_OCPP", description="EVCharging OCPP 1.6J and 2.0.1 gateway"
    )
    p.add_argument("--port", required=True, type=cli.port, help="WebSocket port for chargers")
    p.add_argument("--host", default="0.0.0.0", help="interface to listen on (default all)")
    p.add_argument(
        "--central",
        required=True,
        type=cli.host_and_ports,
        metavar="HOST:PORT[,HOST:PORT]",
        help="EV_Central's TCP port (the monitors' link); an active/standby pair as two, "
        "each charger's link uses the active one",
    )
    cli.add_kafka(p)  # --kafka, --topic-prefix
    p.add_argument(
        "--auto-register",
        action="store_true",
        help="accept charge points without a provisioned password and register them at Central",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=cli.positive,
        default=30.0,
        help="OCPP heartbeat interval given in BootNotification.conf, s (default 30); a "
        "connection silent for 1.5 × this is closed and the CP turns DISCONNECTED",
    )
    p.add_argument(
        "--passwords",
        type=Path,
        default=None,
        help=f"basic-auth password file written by evc-admin (default {default_path()})",
    )
    p.add_argument(
        "--local-list",
        type=Path,
        metavar="FILE",
        default=None,
        help="the drivers' ids sent to each charger at its boot for its local authorization "
        f"list, written by evc-admin ocpp local-list (default {local_list.default_path()}, "
        "if it exists)",
    )
    p.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path(os.environ.get("EVC_CREDENTIALS_DIR", DEFAULT_HOME / "credentials")),
        help="where each CP's Central credential is kept",
    )
    p.add_argument(
        "--enroll-tokens",
        type=Path,
        metavar="DIR",
        default=DEFAULT_HOME / "enroll-tokens",
        help="the operator's one-time enrollment tokens, <charger id>.token each (evc-admin cp "
        "enroll ID --token-file DIR/ID.token), read before each REGISTER; only needed while a "
        f"charger has no credential (default {DEFAULT_HOME / 'enroll-tokens'})",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_HOME / "state",
        help="open transactions and replay windows, one file per CP",
    )
    p.add_argument("--gateway-id", default="gw", help="names the Kafka consumer group")
    p.add_argument(
        "--central-ca",
        type=Path,
        default=None,
        help="CA certificate that signs Central's (default ca.pem in the secrets directory)",
    )
    p.add_argument(
        "--security-profile",
        type=int,
        choices=[int(profile) for profile in SecurityProfile],
        default=None,
        help="towards the chargers, OCPP 1.6 security profile: 1 ws:// with basic auth, "
        "2 wss:// with basic auth, 3 wss:// with client certificates from the CA "
        "(default 2; 1 with --insecure)",
    )
    cli.add_server_cert(
        p, "ocpp", "ocpp", "the gateway's TLS certificate for wss:// (issued by the project's CA)"
    )
    p.add_argument(
        "--ocpp-ca",
        type=Path,
        default=None,
        help="profile 3: the CA that issues the chargers' certificates (default ca.pem in the "
        "secrets directory; evc-admin ocpp cert ID issues one)",
    )
    p.add_argument(
        "--connectors",
        type=connectors_option,
        action="append",
        default=[],
        metavar="ID=N | N",
        help="a charger's number of connectors, each a CP at Central: ID-1 … ID-N when N ≥ 2, "
        "the charger's own id when 1 (repeatable; N alone: every charger not named; default 1)",
    )
    cli.add_kafka_security(p, "engine")
    add_metrics_option(p)
    p.add_argument("--no-gui", action="store_true", help="accepted; the gateway has no window")
    cli.add_log_level(p)
    return p


def charger_tls(args: argparse.Namespace) -> tuple[SecurityProfile, ssl.SSLContext | None]:
    """The security profile towards the chargers and its TLS context (None for profile 1);
    raises TlsConfigError when the files are missing or unusable."""
    if args.security_profile is None:
        profile = SecurityProfile.BASIC_AUTH if args.insecure else SecurityProfile.TLS_BASIC_AUTH
    else:
        profile = SecurityProfile(args.security_profile)
    cert, key = cli.server_cert(args, "ocpp", "ocpp")
    if not profile.tls:
        return profile, None
    secrets = Secrets(default_dir())
    client_ca = (args.ocpp_ca or secrets.ca_cert) if profile.client_certificates else None
    return profile, server_context(cert, key, client_ca=client_ca)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        profile, server_tls = charger_tls(args)
    except TlsConfigError as exc:
        print(
            f"EV_OCPP: error: {exc} (for wss://: `evc-secrets init` issues ocpp.pem, or pass "
            "--ocpp-cert FILE --ocpp-key FILE; --security-profile 1 serves plain ws://)",
            file=sys.stderr,
        )
        return 2
    if not profile.tls and not args.insecure:
        print(
            "EV_OCPP: warning: --security-profile 1 serves plain ws://: the chargers' "
            "passwords cross the network in clear (a trusted network only; docs/ocpp.md)",
            file=sys.stderr,
            flush=True,
        )
    tls = None
    if args.insecure:
        cli.warn_insecure("EV_OCPP")
    else:
        try:
            tls = client_context(args.central_ca or Secrets(default_dir()).ca_cert)
        except TlsConfigError as exc:
            print(f"EV_OCPP: error: {exc} (pass --central-ca FILE or --insecure)", file=sys.stderr)
            return 2
    security = cli.kafka_security(args, "engine", "EV_OCPP")  # may exit 2
    if args.local_list is not None and not args.local_list.exists():
        print(
            f"EV_OCPP: note: --local-list {args.local_list} does not exist (yet): the "
            "chargers' local authorization lists are left alone until it does (evc-admin "
            f"ocpp local-list --file {args.local_list})",
            file=sys.stderr,
            flush=True,
        )
    gateway = Gateway(
        central=args.central,
        kafka=args.kafka,
        topics=Topics(args.topic_prefix),
        state_dir=args.state_dir,
        credentials_dir=args.credentials_dir,
        passwords=PasswordFile(args.passwords),
        enroll_tokens=args.enroll_tokens,
        local_list=args.local_list or local_list.default_path(),
        gateway_id=args.gateway_id,
        heartbeat_interval=args.heartbeat_interval,
        auto_register=args.auto_register,
        tls=tls,
        profile=profile,
        server_tls=server_tls,
        security=security,
        insecure=args.insecure,
        connectors=ConnectorCounts.of_options(args.connectors),
        say=lambda line: print(line, flush=True),
    )
    serve_gateway(args, gateway)  # --metrics-port: /metrics, /healthz, /readyz (may exit 2)
    loop = new_event_loop()
    task = loop.create_task(gateway.serve(args.host, args.port))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    except OSError as exc:
        print(f"EV_OCPP: error: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 2
    finally:
        loop.close()
    print("EV_OCPP stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
