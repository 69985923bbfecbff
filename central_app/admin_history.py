"""``evc-admin sessions`` and ``evc-admin report``: the history from a shell.

    evc-admin ... sessions [--cp ID] [--driver ID] [--since DATE] [--until DATE]
                           [--reason R] [--format csv|json]
    evc-admin ... report [--since DATE] [--until DATE] [--format table|csv|json]

Dates are UTC, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]``; a bare ``--until`` date includes
that whole day. A ticket belongs to the period in which it ended. ``sessions`` writes the
same columns as the control center's CSV export (oldest first); ``report`` gives per CP the
tickets, kWh, € and how many times it turned BROKEN, with a total line.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import asdict
from functools import partial
from typing import TextIO

from central_app.db import Database
from central_app.history import (
    History,
    PeriodError,
    SessionFilter,
    parse_when,
    write_csv,
    write_json,
)
from central_app.history.periods import FORMATS_HELP
from central_app.reconcile import find_discrepancies


def _when(text: str, *, end_of_day: bool = False) -> str:
    try:
        return parse_when(text, end_of_day=end_of_day)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_when, default=None, help=f"from this time: {FORMATS_HELP}")
    parser.add_argument(
        "--until",
        type=partial(_when, end_of_day=True),
        default=None,
        help="up to this time (a bare date includes the whole day)",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sessions = sub.add_parser("sessions", help="the tickets, filtered, as CSV or JSON")
    sessions.add_argument("--cp", default=None, metavar="ID")
    sessions.add_argument("--driver", default=None, metavar="ID")
    sessions.add_argument("--reason", default=None, help="how it ended (unplugged, fault, ...)")
    sessions.add_argument(
        "--flagged",
        action="store_true",
        help="only tickets flagged for the operator (an implausible meter reading was refused)",
    )
    _period(sessions)
    sessions.add_argument("--format", choices=("csv", "json"), default="csv")
    reconcile = sub.add_parser(
        "reconcile",
        help="do the books balance? each ticket against its price and the meter's final "
        "reading (exit 1 when something does not)",
    )
    reconcile.add_argument(
        "--since", type=_when, default=None, help=f"from this time: {FORMATS_HELP}"
    )
    reconcile.add_argument("--format", choices=("text", "json"), default="text")
    report = sub.add_parser("report", help="per charging point: tickets, kWh, EUR, faults")
    _period(report)
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")


def run(args: argparse.Namespace, db: Database, out: TextIO) -> int:
    if args.area == "reconcile":
        found = find_discrepancies(db, args.since)
        if args.format == "json":
            json.dump([asdict(d) for d in found], out, indent=1)
            out.write("\n")
        else:
            for d in found:
                out.write(d.line() + "\n")
            out.write(
                f"{len(found)} discrepanc{'y' if len(found) == 1 else 'ies'}"
                f"{' since ' + args.since if args.since else ''}: "
                f"{'the books balance' if not found else 'see above'}\n"
            )
        return 1 if found else 0
    history = History(db)
    if args.area == "sessions":
        f = SessionFilter(
            args.cp, args.driver, args.since, args.until, args.reason, flagged=args.flagged
        )
        rows = history.sessions(f)
        (write_json if args.format == "json" else write_csv)(rows, out)
        return 0
    report = history.cp_report(args.since, args.until)
    if args.format == "json":
        json.dump([asdict(r) for r in report], out, indent=1)
        out.write("\n")
        return 0
    if args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("cp_id", "sessions", "kwh", "eur", "faults"))
        writer.writerows((r.cp_id, r.sessions, repr(r.kwh), repr(r.eur), r.faults) for r in report)
        return 0
    out.write(f"{'cp':12} {'sessions':>9} {'kWh':>12} {'EUR':>11} {'faults':>7}\n")
    for r in report:
        out.write(f"{r.cp_id:12} {r.sessions:9d} {r.kwh:12.3f} {r.eur:11.2f} {r.faults:7d}\n")
    out.write(
        f"{'total':12} {sum(r.sessions for r in report):9d} {sum(r.kwh for r in report):12.3f} "
        f"{sum(r.eur for r in report):11.2f} {sum(r.faults for r in report):7d}\n"
    )
    return 0
