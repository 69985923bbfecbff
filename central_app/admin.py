"""``evc-admin``: manage Central's registry from a shell; every change is audited.

    evc-admin [--db URL | --data-dir DIR] driver add ID [--key-file F] | driver remove ID
    evc-admin ... driver key ID [--key-file F] [--current]
    evc-admin ... cp add ID --location L --x X --y Y --price P
    evc-admin ... cp remove ID | cp price ID PRICE | cp reset-credential ID
    evc-admin ... cp revoke ID | cp rotate-key ID
    evc-admin ... list [--audit N]
    evc-admin ... audit [--limit N]
    evc-admin ... sessions [--cp ID] [--driver ID] [--since DATE] [--until DATE] [--format csv|json]
    evc-admin ... report [--since DATE] [--until DATE] [--format table|csv|json]
    evc-admin ... db current | db upgrade | db prune [--state-history-days D]
    evc-admin ocpp password ID [--stdin] [--file F] | ocpp remove ID [--file F]
    evc-admin ocpp cert ID [--dir SECRETS] [--out DIR]
    evc-admin ... ocpp local-list [--file F]

Central picks up new CPs, price changes, driver keys, revocations and rotated keys within a
few seconds while it runs. ``sessions`` and ``report`` read the history (see
:mod:`central_app.admin_history`). A driver's key (docs/security.md) goes to ``--key-file`` (written
mode 0600) or, without it, to standard output.

``ocpp password`` sets an OCPP charge point's basic-auth password (security profile 1,
docs/ocpp.md): a new random one, printed once, or the one read from standard input with
``--stdin``. Only its hash is stored, in the OCPP gateway's password file (not Central's
database: Central knows nothing of OCPP), which the running gateway rereads at each
connection.

``ocpp cert`` issues a charger's client certificate for security profile 3: a new key and a
certificate signed by the project's private CA (the secrets directory's ``ca.pem``/``ca.key``,
so run it where the CA is) whose common name is the charge point id, written 0600 as
``ID.pem`` and ``ID.key`` in ``--out`` (default ``ocpp-chargers/`` of the secrets directory).

``ocpp local-list`` writes the ids of every registered driver into the gateway's local
authorization list file (``cp_core.local_list``, a new version each time), which EV_OCPP
sends to each charger at its next boot so that the charger may authorize them while alone.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from central_app import admin_history
from central_app.db import (
    DatabaseError,
    head_revision,
    mask_url,
    migrate,
    open_database,
    schema_revision,
)
from central_app.db_options import add_db_options, db_url
from central_app.state_log import (
    DEFAULT_STATE_HISTORY_DAYS,
    prune_state_changes,
    retention_cutoff,
)
from central_app.store import CP_ID, RegistryError, Store
from wire.cli import non_negative
from wire.display import count
from wire.pki import write_private


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a price: {text!r}") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"price must be between 0 and 100 EUR/kWh, got {value}")
    return value


def _duration(text: str) -> float:
    """``30m``, ``24h``, ``7d`` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration (30m, 24h, 7d): {text!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive: {text!r}")
    return seconds


def _rated_kw(text: str) -> float | None:
    if text == "default":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a power in kW: {text!r}") from None
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"rated power must be above 0 kW, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evc-admin", description="Manage EV_Central's drivers and charging points."
    )
    add_db_options(p)  # --db, --data-dir
    sub = p.add_subparsers(dest="area", required=True)

    driver = sub.add_parser("driver", help="add or remove a driver").add_subparsers(
        dest="action", required=True
    )
    add_driver = driver.add_parser("add", help="add a driver and issue its key")
    add_driver.add_argument("id")
    add_driver.add_argument("--key-file", type=Path, default=None, help="write the key here (0600)")
    driver.add_parser("remove").add_argument("id")
    key = driver.add_parser("key", help="issue a new key for a driver (the old one stops working)")
    key.add_argument("id")
    key.add_argument("--key-file", type=Path, default=None, help="write the key here (0600)")
    key.add_argument(
        "--current", action="store_true", help="export the driver's current key instead"
    )

    cp = sub.add_parser("cp", help="manage charging points").add_subparsers(
        dest="action", required=True
    )
    add = cp.add_parser("add")
    add.add_argument("id")
    add.add_argument("--location", default="")
    add.add_argument("--x", type=float, default=None)
    add.add_argument("--y", type=float, default=None)
    add.add_argument("--price", type=_price, required=True)
    cp.add_parser("remove").add_argument("id")
    price = cp.add_parser("price")
    price.add_argument("id")
    price.add_argument("price", type=_price)
    rated = cp.add_parser(
        "rated-kw", help="the charger's rated power: no energy beyond it is billed"
    )
    rated.add_argument("id")
    rated.add_argument("kw", type=_rated_kw, help="kW, or 'default' for Central's --rated-kw")
    enroll = cp.add_parser(
        "enroll",
        help="a one-time token that lets this id register (a new CP, or a revoked one re-admitted)",
    )
    enroll.add_argument("id")
    enroll.add_argument(
        "--expires",
        type=_duration,
        default="24h",
        help="valid for (e.g. 30m, 24h, 7d; default 24h)",
    )
    enroll.add_argument(
        "--token-file", type=Path, default=None, help="write the token here (0600) instead"
    )
    many = cp.add_parser(
        "enroll-many",
        help="enrollment tokens for many ids in one transaction, into a JSON file (0600)",
    )
    many.add_argument("--ids-file", type=Path, required=True, help="one CP id a line")
    many.add_argument(
        "--tokens-file", type=Path, required=True, help='write {"id": "token", ...} here'
    )
    many.add_argument("--expires", type=_duration, default="24h", help="valid for (default 24h)")
    cp.add_parser("reset-credential").add_argument("id")
    cp.add_parser(
        "revoke", help="delete credential and key: refused until the operator re-admits it (enroll)"
    ).add_argument("id")
    cp.add_parser(
        "rotate-key", help="a new key, handed to the monitor at its next AUTH"
    ).add_argument("id")

    ocpp = sub.add_parser(
        "ocpp", help="OCPP charge points' passwords (the gateway's file) and certificates"
    ).add_subparsers(dest="action", required=True)
    password = ocpp.add_parser("password", help="set a password (printed once) for a charger")
    password.add_argument("id")
    password.add_argument("--stdin", action="store_true", help="read the password from stdin")
    password.add_argument("--file", type=Path, default=None, help="the gateway's password file")
    cert = ocpp.add_parser(
        "cert", help="issue a charger's client certificate (security profile 3), CN = its id"
    )
    cert.add_argument("id")
    cert.add_argument(
        "--dir", type=Path, default=None, help="the secrets directory holding the CA (ca.key)"
    )
    cert.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write ID.pem and ID.key (default ocpp-chargers/ in the secrets directory)",
    )
    remove_pw = ocpp.add_parser("remove", help="forget a charger's password (it is refused)")
    remove_pw.add_argument("id")
    remove_pw.add_argument("--file", type=Path, default=None, help="the gateway's password file")
    local = ocpp.add_parser(
        "local-list",
        help="write every registered driver's id into the gateway's local authorization list "
        "(sent to each charger at its next boot)",
    )
    local.add_argument(
        "--file",
        type=Path,
        default=None,
        help="the list file (default ocpp-local-list.txt in the secrets directory; the "
        "gateway's --local-list)",
    )

    db = sub.add_parser("db", help="the database's schema (migrations)").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("current", help="the schema revision of the database and the newest known")
    db.add_parser("upgrade", help="bring the schema to the newest revision (Central does at start)")
    prune = db.add_parser(
        "prune", help="delete CP state changes older than the retention (Central does too)"
    )
    prune.add_argument(
        "--state-history-days",
        type=non_negative,
        default=DEFAULT_STATE_HISTORY_DAYS,
        metavar="DAYS",
        help=f"days kept (default {DEFAULT_STATE_HISTORY_DAYS:g}, as Central's option); "
        "each CP keeps its state at the cutoff",
    )

    listing = sub.add_parser(
        "list", help="show drivers, charging points and the latest audit entries"
    )
    listing.add_argument("--audit", type=int, default=10, metavar="N")
    audit = sub.add_parser("audit", help="the audit log, newest first")
    audit.add_argument("--limit", type=int, default=50, metavar="N")
    admin_history.add_parsers(sub)
    return p


def _key_out(driver_id: str, key: str, path: Path | None, what: str) -> str:
    """The key into its file (0600), or printed when no file is given."""
    if path is None:
        return key
    write_private(path, (key + "\n").encode())
    return f"driver {driver_id}: {what} written to {path} (mode 0600)"


def _enroll_many(store: Store, args: argparse.Namespace, who: str) -> str:
    """``Store.issue_enrollments`` for the ids of a file (evc-fleet admits thousands of CPs
    this way before their monitors start): all or nothing, the tokens as JSON into a 0600 file."""
    ids = [line.strip() for line in args.ids_file.read_text().splitlines() if line.strip()]
    bad = [cp_id for cp_id in ids if not CP_ID.match(cp_id)]
    if bad:
        raise RegistryError(f"not a CP id: {bad[0]!r}")
    issued = store.issue_enrollments(ids, who, args.expires)
    tokens = {cp_id: token for cp_id, (token, _) in issued.items()}
    write_private(args.tokens_file, json.dumps(tokens).encode())
    return f"{len(tokens)} enrollment tokens written to {args.tokens_file} (mode 0600)"


def _local_list(store: Store, path: Path | None) -> str:
    """``evc-admin ocpp local-list``: Central's drivers into the gateway's list file."""
    from cp_core.local_list import LocalListError, default_path, write

    try:
        written = write(store.list_drivers(), path)
    except LocalListError as exc:
        raise RegistryError(str(exc)) from None
    return (
        f"{count(len(written.ids), 'driver id')}, version {written.version}, written to "
        f"{path or default_path()}: EV_OCPP sends it to each charger at the charger's next "
        "boot (a gateway on another host: copy the file into its secrets directory, or where "
        "its --local-list points)"
    )


def _audit_lines(store: Store, limit: int) -> list[str]:
    rows = store.audit_entries(limit)
    if not rows:
        return ["(the audit log is empty)"]
    lines = [f"{'time (UTC)':24} {'source':24} {'action':20} detail"]
    lines += [f"{ts:24} {who_[:24]:24} {action:20} {detail}" for ts, who_, action, detail in rows]
    return lines


def run(args: argparse.Namespace, store: Store, who: str) -> str:
    if args.area == "audit":
        return "\n".join(_audit_lines(store, args.limit))
    if args.area == "ocpp":  # local-list: the other ocpp actions need no database (run_ocpp)
        return _local_list(store, args.file)
    if args.area == "driver":
        if args.action == "add":
            key = store.add_driver(args.id, who)
            if args.key_file is None:
                # on stderr, so `KEY=$(evc-admin driver add D-100)` captures the key alone
                print(f"driver {args.id} added; its key follows", file=sys.stderr)
            return _key_out(args.id, key, args.key_file, "added; its key")
        if args.action == "key":
            key = store.driver_key(args.id, who, current=args.current)
            return _key_out(args.id, key, args.key_file, "key")
        store.remove_driver(args.id, who)
        return f"driver {args.id} removed"
    if args.area == "cp":
        if args.action == "add":
            store.add_cp(args.id, args.location, args.x, args.y, args.price, who)
            return f"charging point {args.id} added"
        if args.action == "remove":
            store.remove_cp(args.id, who)
            return f"charging point {args.id} removed"
        if args.action == "price":
            store.set_price(args.id, args.price, who)
            return f"charging point {args.id}: price {args.price:.2f} EUR/kWh"
        if args.action == "rated-kw":
            store.set_rated_kw(args.id, args.kw, who)
            shown = f"{args.kw:g} kW" if args.kw else "Central's default (--rated-kw)"
            return f"charging point {args.id}: rated power {shown}"
        if args.action == "enroll":
            if not CP_ID.match(args.id):
                raise RegistryError(f"not a CP id: {args.id!r}")
            token, expires_at = store.issue_enrollment(args.id, who, args.expires)
            if args.token_file is None:
                print(
                    f"charging point {args.id}: enrollment token (one use, until {expires_at}) "
                    f"follows; give it to the monitor with --enroll-token",
                    file=sys.stderr,
                )
                return token
            write_private(args.token_file, (token + "\n").encode())
            return (
                f"charging point {args.id}: enrollment token (one use, until {expires_at}) "
                f"written to {args.token_file} (mode 0600); start the monitor with "
                f"--enroll-token @{args.token_file}"
            )
        if args.action == "enroll-many":
            return _enroll_many(store, args, who)
        if args.action == "revoke":
            store.revoke_cp(args.id, who)
            return (
                f"charging point {args.id}: credential and key revoked; it is refused until you "
                f"re-admit it (evc-admin cp enroll {args.id}); a running Central closes its "
                "connection within 5 s"
            )
        if args.action == "rotate-key":
            store.rotate_cp_key(args.id, who)
            return (
                f"charging point {args.id}: new key; a running Central reconnects its monitor "
                "within 5 s, which hands the new key to the engine"
            )
        store.reset_credential(args.id, who)
        return (
            f"charging point {args.id}: credential reset; its monitor must REGISTER again "
            f"(a secured Central wants an enrollment token: evc-admin cp enroll {args.id})"
        )
    lines = ["charging points:"]
    for r in store.load_cps():
        where = f"({r.x:g}, {r.y:g})" if r.x is not None and r.y is not None else "(no position)"
        cred = "registered" if r.has_credential else "revoked" if r.revoked else "no credential"
        lines.append(
            f"  {r.cp_id:10} {r.location:16} {where:14} {r.price:.2f} EUR/kWh  {r.admin_state:8} {cred}"
        )
    lines.append("drivers: " + (", ".join(store.list_drivers()) or "(none)"))
    if args.audit > 0:
        lines.append("audit log (latest first):")
        lines += ["  " + line for line in _audit_lines(store, args.audit)]
    return "\n".join(lines)


def run_ocpp_cert(args: argparse.Namespace) -> int:
    """``evc-admin ocpp cert ID``: the charger's key and certificate, signed by the CA."""
    from cp_core.passwords import CHARGE_POINT_ID
    from wire.pki import Secrets, default_dir, make_client

    if CHARGE_POINT_ID.fullmatch(args.id) is None:
        print(
            f"evc-admin: error: {args.id!r} is not a charge point id the gateway accepts "
            "(letters, digits, . _ - : @ +; at most 64)",
            file=sys.stderr,
        )
        return 1
    secrets = Secrets(args.dir or default_dir())
    try:
        ca_cert, ca_key = secrets.ca_cert.read_bytes(), secrets.ca_key.read_bytes()
    except OSError as exc:
        print(
            f"evc-admin: error: cannot read the project's CA in {secrets.root}: "
            f"{exc.strerror or exc} (run it where `evc-secrets init` made the CA, or --dir)",
            file=sys.stderr,
        )
        return 2
    cert, key = make_client(args.id, ca_cert, ca_key)
    out = args.out or secrets.ocpp_chargers
    write_private(out / f"{args.id}.key", key)
    write_private(out / f"{args.id}.pem", cert)
    print(out / f"{args.id}.pem")  # alone on stdout; the key beside it
    print(
        f"OCPP charge point {args.id}: client certificate (CN {args.id}, signed by the "
        f"project's CA) and key written to {out}\n"
        f"  on the charger: its certificate {args.id}.pem and private key {args.id}.key; "
        f"the trusted root (the gateway's certificate is issued by it) {secrets.ca_cert}\n"
        f"  central system URL wss://GATEWAY-HOST:PORT/ocpp/{args.id}, EV_OCPP with "
        "--security-profile 3",
        file=sys.stderr,
    )
    return 0


def run_ocpp(args: argparse.Namespace) -> int:
    """``evc-admin ocpp …``: the gateway's password file or a charger's certificate, no
    database."""
    from cp_core.passwords import PasswordFile, authorization_key, new_password

    if args.action == "cert":
        return run_ocpp_cert(args)
    passwords = PasswordFile(args.file)
    if args.action == "remove":
        found = passwords.remove(args.id)
        print(f"OCPP charge point {args.id}: password {'removed' if found else 'was not set'}")
        return 0
    password = sys.stdin.readline().strip() if args.stdin else new_password()
    try:
        passwords.set(args.id, password)
    except ValueError as exc:
        print(f"evc-admin: error: {exc}", file=sys.stderr)
        return 1
    print(f"OCPP charge point {args.id}: password set in {passwords.path}", file=sys.stderr)
    key = authorization_key(password)
    print(
        f"  on the charger (ChangeConfiguration): AuthorizationKey = {key}\n"
        f"  a compliant charger then sends the {len(key) // 2} bytes it encodes as its "
        f"basic-auth password (user {args.id}); one that sends the key's text is accepted too",
        file=sys.stderr,
    )
    if not args.stdin:
        print(password)  # alone on stdout: PW=$(evc-admin ocpp password CP-1)
    return 0


def run_db(args: argparse.Namespace, url: str) -> int:
    """``evc-admin db current|upgrade``: opened without migrating, so ``current`` says where
    the database is before anything changes it."""
    try:
        db = open_database(url, create=False)
    except DatabaseError as exc:
        print(f"evc-admin: error: {exc}", file=sys.stderr)
        return 2
    try:
        before = schema_revision(db)
        if args.action == "prune":
            cutoff = retention_cutoff(args.state_history_days)
            if cutoff is None:
                print(f"{mask_url(url)}: state history kept whole (--state-history-days 0)")
                return 0
            deleted = prune_state_changes(db, cutoff)
            print(
                f"{mask_url(url)}: {count(deleted, 'state change')} before {cutoff} deleted "
                "(each charging point keeps its state at that moment)"
            )
            return 0
        if args.action == "current":
            print(
                f"{mask_url(url)}: schema {before or 'from before migrations (or empty)'}; "
                f"this version's newest is {head_revision()}"
            )
            return 0
        started = migrate(db.engine)
        after = schema_revision(db)
        print(
            f"{mask_url(url)}: schema {after}"
            + (f" (upgraded from {started})" if started else " (already the newest)")
        )
        return 0
    except (DatabaseError, SQLAlchemyError) as exc:
        print(f"evc-admin: error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.area == "ocpp" and args.action != "local-list":
        return run_ocpp(args)
    url = db_url(args)
    if args.area == "db":
        return run_db(args, url)
    try:
        db = open_database(url)
    except DatabaseError as exc:
        print(f"evc-admin: error: {exc}", file=sys.stderr)
        return 2
    try:
        who = f"admin {getpass.getuser()}"
    except Exception:
        who = "admin"
    try:
        if args.area in ("sessions", "report", "reconcile"):
            return admin_history.run(args, db, sys.stdout)
        else:
            print(run(args, Store(db), who))
        return 0
    except RegistryError as exc:
        print(f"evc-admin: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a database failure mid-way: say it, no traceback
        print(f"evc-admin: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
