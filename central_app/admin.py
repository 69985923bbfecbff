"""``evc-admin``: manage Central's registry from a shell; every change is audited.

    evc-admin [--db URL | --data-dir DIR] driver add|remove ID
    evc-admin ... cp add ID --location L --x X --y Y --price P
    evc-admin ... cp remove ID | cp price ID PRICE | cp reset-credential ID
    evc-admin ... list [--audit N]

Central picks up new CPs and price changes within a few seconds while it runs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from central_app.db import DEFAULT_DATA_DIR, DatabaseError, default_url, open_database
from central_app.store import RegistryError, Store


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a price: {text!r}") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"price must be between 0 and 100 EUR/kWh, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evc-admin", description="Manage EV_Central's drivers and charging points."
    )
    p.add_argument(
        "--db",
        default=os.environ.get("EVC_DB_URL"),
        help="SQLAlchemy URL (default: env EVC_DB_URL, else SQLite in --data-dir)",
    )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default ./.run/central")
    sub = p.add_subparsers(dest="area", required=True)

    driver = sub.add_parser("driver", help="add or remove a driver").add_subparsers(
        dest="action", required=True
    )
    driver.add_parser("add").add_argument("id")
    driver.add_parser("remove").add_argument("id")

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
    cp.add_parser("reset-credential").add_argument("id")

    listing = sub.add_parser(
        "list", help="show drivers, charging points and the latest audit entries"
    )
    listing.add_argument("--audit", type=int, default=10, metavar="N")
    return p


def run(args: argparse.Namespace, store: Store, who: str) -> str:
    if args.area == "driver":
        if args.action == "add":
            store.add_driver(args.id, who)
            return f"driver {args.id} added"
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
        store.reset_credential(args.id, who)
        return f"charging point {args.id}: credential reset; its monitor must REGISTER again"
    lines = ["charging points:"]
    for r in store.load_cps():
        where = f"({r.x:g}, {r.y:g})" if r.x is not None and r.y is not None else "(no position)"
        cred = "registered" if r.has_credential else "no credential"
        lines.append(
            f"  {r.cp_id:10} {r.location:16} {where:14} {r.price:.2f} EUR/kWh  {r.admin_state:8} {cred}"
        )
    lines.append("drivers: " + (", ".join(store.list_drivers()) or "(none)"))
    if args.audit > 0:
        lines.append("audit log (latest first):")
        lines += [
            f"  {ts} {who_:24} {action:20} {detail}"
            for ts, who_, action, detail in store.audit_entries(args.audit)
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.db or default_url(args.data_dir)
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
