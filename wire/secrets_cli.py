"""``evc-secrets``: create and inspect the network's secrets directory (``wire.pki``).

    evc-secrets init [--dir D] [--host H ...]   create what is missing (keeps what exists)
    evc-secrets show [--dir D]                  list the files, certificates' names and expiry
    evc-secrets curve [CP_ID ...] [--engine] [--rotate] [--dir D | --curve-dir C]
                                                the engine link's CURVE keys (wire.curve)

The directory is ``--dir``, else ``$EVC_SECRETS``, else ``~/.config/evcharging/secrets``.
``--host`` adds names (or IP addresses) to the certificates issued now: Central's must name
the host the monitors dial (``--central HOST:PORT``), EV_OCPP's (``ocpp.pem``) the host the
OCPP chargers dial. To re-issue a certificate for another name, delete ``central.pem``/
``central.key`` (or ``ocpp.pem``/``ocpp.key``) and run ``init --host NAME`` again; the CA
stays, so monitors and chargers keep trusting it (docs/security.md, docs/ocpp.md).

``curve`` creates, when missing, the engines' keypair and the monitor keypair of each CP named
(in ``curve/`` of the directory, or ``--curve-dir``); EV_CP_E and EV_CP_M do the same for
their own keys at start. ``--rotate`` replaces the named CPs' monitor keypairs, and with
``--engine`` the engines' keypair; it prints which public keys to copy to which host.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509

from wire.curve import CURVE_DIR, CurveKeys
from wire.errors import CurveKeyError
from wire.pki import PkiError, Secrets, default_dir


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evc-secrets", description="EVCharging's secrets directory (private CA, certificates)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the CA, certificates and Kafka role files")
    init.add_argument("--dir", type=Path, default=None, help="default $EVC_SECRETS or ~/.config")
    init.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="H",
        help="extra host name or IP for the certificates issued now (repeatable)",
    )
    show = sub.add_parser("show", help="list the directory")
    show.add_argument("--dir", type=Path, default=None)
    curve = sub.add_parser(
        "curve",
        help="CURVE keys of the monitor-engine ZeroMQ link: create (or --rotate) them",
        description="Create what is missing: the engines' keypair (curve/engine.key*) and, for "
        "each CP_ID, its monitor's keypair (curve/CP_ID/monitor.key*). --rotate replaces the "
        "named CPs' keypairs (and the engines' with --engine).",
    )
    curve.add_argument("cp_ids", nargs="*", metavar="CP_ID", help="CPs whose monitor keys to make")
    curve.add_argument("--engine", action="store_true", help="with --rotate: the engines' keys")
    curve.add_argument("--rotate", action="store_true", help="replace the keys named")
    curve.add_argument("--dir", type=Path, default=None, help="default $EVC_SECRETS or ~/.config")
    curve.add_argument(
        "--curve-dir", type=Path, default=None, help="the CURVE folder itself (default DIR/curve)"
    )
    return p


def describe_certificate(path: Path) -> str:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    subject = str(common[0].value) if common else cert.subject.rfc4514_string()
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = [str(n.value) for n in names]
    except x509.ExtensionNotFound:
        hosts = []
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    listed = f", names {', '.join(hosts)}" if hosts else ""
    return f"{subject!r}, valid until {until}{listed}"


def show(secrets: Secrets) -> int:
    if not secrets.root.is_dir():
        print(f"{secrets.root}: does not exist (run `evc-secrets init`)")
        return 1
    print(f"{secrets.root}")
    for path in sorted(secrets.root.iterdir()):
        if path.name.startswith("."):
            continue
        mode = path.stat().st_mode & 0o777
        line = f"  {path.name:<28} {mode:04o}"
        if path.suffix == ".pem":
            line += f"  {describe_certificate(path)}"
        print(line)
    keys = CurveKeys(secrets.root / CURVE_DIR)
    for name, public in keys.listing():
        print(f"  {CURVE_DIR + '/' + name:<28} public key {public.decode('ascii')}")
    return 0


def curve(keys: CurveKeys, cp_ids: list[str], *, engine: bool, rotate: bool) -> int:
    """``evc-secrets curve``: create (or rotate) the engine link's CURVE keys."""
    try:
        if rotate and not engine and not cp_ids:
            print(
                "evc-secrets: error: curve --rotate needs CP ids and/or --engine", file=sys.stderr
            )
            return 2
        if rotate and engine:
            keys.rotate_engine()
            print(
                f"{keys.engine_public}: new engines' keypair. Restart the engines that use "
                f"{keys.root}; copy engine.key to the hosts of monitors that run elsewhere"
            )
        elif keys.ensure_engine():
            print(f"{keys.engine_public}: created the engines' keypair")
        for cp_id in cp_ids:
            if rotate:
                keys.rotate_monitor(cp_id)
                print(
                    f"{keys.monitor_public(cp_id)}: new keypair for {cp_id}'s monitor (used at "
                    "its next connection to the engine; the old key is refused from then on; "
                    "an engine on another host needs a copy of this monitor.key)"
                )
            elif keys.ensure_monitor(cp_id):
                print(f"{keys.monitor_public(cp_id)}: created {cp_id}'s monitor keypair")
            else:
                print(f"{keys.monitor_public(cp_id)}: {cp_id}'s monitor keypair already there")
    except CurveKeyError as exc:
        print(f"evc-secrets: error: {exc}", file=sys.stderr)
        return 2
    for name, public in keys.listing():
        print(f"  {name:<28} public key {public.decode('ascii')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    secrets = Secrets(args.dir or default_dir())
    if args.command == "show":
        return show(secrets)
    if args.command == "curve":
        keys = CurveKeys(args.curve_dir or secrets.root / CURVE_DIR)
        return curve(keys, args.cp_ids, engine=args.engine, rotate=args.rotate)
    try:
        created = secrets.init(tuple(args.host))
    except PkiError as exc:
        print(f"evc-secrets: error: {exc}", file=sys.stderr)
        return 2
    if created:
        print(f"{secrets.root}: created {', '.join(created)}")
    else:
        print(f"{secrets.root}: everything already there (nothing changed)")
    kept = [name for name in ("central", "web", "ocpp") if f"{name}.pem" not in created]
    if args.host and kept:
        files = " and ".join(f"{name}.pem" for name in kept)
        print(
            f"note: {files} existed, so --host changed nothing for them; delete a certificate "
            "and its key first to re-issue it for these names"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
