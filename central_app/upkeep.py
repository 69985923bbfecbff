"""``Upkeep``: the slow timer jobs, run on the database writer's thread with their outcome told
on the owner — the books reconciled (``central_app.reconcile``) and the state history pruned
(``central_app.state_log``, ``--state-history-days``)."""

from __future__ import annotations

import logging
from concurrent.futures import Future

from central_app.db import Database
from central_app.db_writer import DbWriter
from central_app.hub import Hub
from central_app.reconcile import Discrepancy, find_discrepancies, window_start
from central_app.state_log import Pruning, retention_cutoff
from central_app.views import LogLevel

log = logging.getLogger(__name__)

RECONCILE_WINDOW_MIN = 6 * 60  # the last hours of sessions, at each reconciliation


class Upkeep:
    def __init__(self, hub: Hub, writer: DbWriter, db: Database, state_history_days: float):
        self._hub = hub
        self._writer = writer
        self._db = db
        self._state_history_days = state_history_days
        self._discrepancies: set[tuple[str, str]] = set()  # reported once each

    def prune_state_history(self) -> None:
        """Old state changes go (``--state-history-days``), on the writer, a chunk a job."""
        cutoff = retention_cutoff(self._state_history_days)
        if cutoff is None:
            return
        done = Pruning(self._writer.submit, self._db, cutoff).start()
        done.add_done_callback(
            lambda f: (
                log.info("state history before %s pruned: %d rows", cutoff, f.result())
                if f.exception() is None
                else log.warning("pruning the state history failed: %s", f.exception())
            )
        )

    def reconcile(self) -> None:
        """Do the books balance? (central_app.reconcile) Read on the writer's thread over the
        last hours; each new discrepancy is audited and shown once."""
        since = window_start(RECONCILE_WINDOW_MIN)
        found = self._writer.submit(find_discrepancies, self._db, since)
        self._hub.after(found, self._report)

    def _report(self, done: Future[list[Discrepancy]]) -> None:
        if done.exception() is not None:
            log.warning("reconciliation failed: %s", done.exception())
            return
        hub = self._hub
        for d in done.result():
            if (d.session_id, d.kind) in self._discrepancies:
                continue
            self._discrepancies.add((d.session_id, d.kind))
            hub.ledger.audit("central", "books_discrepancy", d.line())
            hub.tell("books discrepancies", d.line(), LogLevel.ERROR, d.cp_id)
