"""Central's history, read from its database: tickets, totals, reports, timelines, export.

Qt-free, so the control center, ``evc-admin`` and the benchmark share it. Reads only: the
rows are written by Central's core (sessions and tickets, ``cp_state_changes``). Every
query opens its own connection from the engine's pool, so any thread but Central's owner
may call it (the control center calls it from its reader thread, on connections with time
limits: ``History.timed``).

Public surface:

* :class:`History` (the queries) and :class:`SessionFilter`;
* records: :class:`SessionRecord`, :class:`Totals`, :class:`CpReport`, :class:`DayTotal`,
  :class:`StateChange`, :class:`Fault`;
* :func:`parse_when` / :class:`PeriodError` for user-typed dates, :func:`last_days`;
* :class:`ReadTimeouts`, ``History.timed`` (connections that give up) and
  :func:`describe_failure` (what went wrong, in a line);
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
from central_app.history.timeouts import GUI_TIMEOUTS, ReadTimeouts, describe_failure

__all__ = [
    "CSV_FIELDS",
    "GUI_TIMEOUTS",
    "NO_RECORD",
    "SORTABLE",
    "CpReport",
    "DayTotal",
    "Fault",
    "History",
    "PeriodError",
    "ReadTimeouts",
    "SessionFilter",
    "SessionRecord",
    "StateChange",
    "Totals",
    "availability",
    "describe_failure",
    "energy_per_hour",
    "last_days",
    "parse_when",
    "read_csv",
    "simultaneous",
    "state_counts",
    "write_csv",
    "write_json",
]
