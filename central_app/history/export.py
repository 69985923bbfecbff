"""Tickets out of the history: CSV (for spreadsheets) and JSON (for scripts), and back in.

One column set everywhere (the control center's export, ``evc-admin sessions``), so a file
made by one reads like a file made by the other. Numbers are written with full precision,
so reading a file back gives the same totals as the database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import TextIO

from central_app.history.records import SessionRecord, Totals

CSV_FIELDS = (
    "session_id",
    "cp_id",
    "driver_id",
    "started_at",
    "ended_at",
    "duration_s",
    "kwh",
    "eur",
    "reason",
    "flag",
    "amended_from",
)


def write_csv(records: Iterable[SessionRecord], out: TextIO) -> Totals:
    """Write a header and one line per ticket; returns the totals of what was written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    n, kwh, eur = 0, 0.0, 0.0
    for r in records:
        writer.writerow(
            (r.session_id, r.cp_id, r.driver_id, r.started_at, r.ended_at,
             f"{r.duration_s:.3f}", repr(r.kwh), repr(r.eur), r.reason, r.flag,
             r.amended_from)
        )  # fmt: skip
        n, kwh, eur = n + 1, kwh + r.kwh, eur + r.eur
    return Totals(n, kwh, eur)


def read_csv(source: TextIO) -> list[SessionRecord]:
    """Tickets from a file written by :func:`write_csv` (raises ValueError if it is not)."""
    reader = csv.DictReader(source)
    if tuple(reader.fieldnames or ()) not in (CSV_FIELDS, CSV_FIELDS[:-2]):  # older exports
        raise ValueError(f"not a sessions export: columns {reader.fieldnames}")
    return [
        SessionRecord(
            row["session_id"],
            row["cp_id"],
            row["driver_id"],
            row["started_at"],
            row["ended_at"],
            float(row["kwh"]),
            float(row["eur"]),
            row["reason"],
            row.get("flag") or "",
            row.get("amended_from") or "",
        )  # fmt: skip
        for row in reader
    ]


def write_json(records: Iterable[SessionRecord], out: TextIO) -> Totals:
    """A JSON array of tickets (the CSV's columns), one per line for diffs and ``jq``."""
    n, kwh, eur = 0, 0.0, 0.0
    out.write("[")
    for r in records:
        item = asdict(r)
        item["duration_s"] = round(r.duration_s, 3)
        out.write(("\n" if n == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        n, kwh, eur = n + 1, kwh + r.kwh, eur + r.eur
    out.write("\n]\n" if n else "]\n")
    return Totals(n, kwh, eur)
