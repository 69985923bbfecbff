"""``evc-secrets``: create and inspect the network's secrets directory (``wire.pki``).

    evc-secrets init [--dir D] [--host H ...]   create what is missing (keeps what exists)
    evc-secrets show [--dir D]                  list the files, certificates' names and expiry

The directory is ``--dir``, else ``$EVC_SECRETS``, else ``~/.config/evcharging/secrets``.
``--host`` adds names (or IP addresses) to the certificates issued now: Central's must name
the host the monitors dial (``--central HOST:PORT``). To re-issue Central's certificate for
another name, delete ``central.pem``/``central.key`` and run ``init --host NAME`` again; the
CA stays, so monitors keep trusting it (docs/security.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509

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
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    secrets = Secrets(args.dir or default_dir())
    if args.command == "show":
        return show(secrets)
    try:
        created = secrets.init(tuple(args.host))
    except PkiError as exc:
        print(f"evc-secrets: error: {exc}", file=sys.stderr)
        return 2
    if created:
        print(f"{secrets.root}: created {', '.join(created)}")
    else:
        print(f"{secrets.root}: everything already there (nothing changed)")
    if args.host and "central.pem" not in created:
        print(
            "note: central.pem existed, so --host changed nothing; delete central.pem and "
            "central.key first to re-issue it for these names"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
