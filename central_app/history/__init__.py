"""Central's history, read from its database: tickets, totals, reports, timelines, export.

Qt-free, so the control center, ``evc-admin`` and the benchmark share it. Reads only: the
rows are written by Central's core (sessions and tickets, ``cp_state_changes``). Every
query opens its own connection from the engine's pool, so any thread but Central's owner
may call it (the control center calls it from the GUI thread).

Public surface:

* :class:`History` (the queries) and :class:`SessionFilter`;
* records: :class:`SessionRecord`, :class:`Totals`, :class:`CpReport`, :class:`DayTotal`,
  :class:`StateChange`, :class:`Fault`;
* :func:`parse_when` / :class:`PeriodError` for user-typed dates, :func:`last_days`;
* :func:`write_csv`, :func:`read_csv`, :func:`write_json` (export);
* timelines (pure): :func:`availability`, :func:`state_counts`, :func:`simultaneous`,
  :func:`energy_per_hour`.
"""

from central_app.history.export import CSV_FIELDS, read_csv, write_csv, write_json
from central_app.history.periods import PeriodError, last_days, parse_when
from central_app.history.queries import SORTABLE, History
from central_app.history.records import (
    CpReport,
    DayTotal,
    Fault,
    SessionFilter,
    SessionRecord,
    StateChange,
    Totals,
)
from central_app.history.timeline import (
    NO_RECORD,
    availability,
    energy_per_hour,
    simultaneous,
    state_counts,
)

__all__ = [
    "CSV_FIELDS",
    "NO_RECORD",
    "SORTABLE",
    "CpReport",
    "DayTotal",
    "Fault",
    "History",
    "PeriodError",
    "SessionFilter",
    "SessionRecord",
    "StateChange",
    "Totals",
    "availability",
    "energy_per_hour",
    "last_days",
    "parse_when",
    "read_csv",
    "simultaneous",
    "state_counts",
    "write_csv",
    "write_json",
]
