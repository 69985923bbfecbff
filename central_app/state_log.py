"""The CP state-change log: one row per actual change of a CP's status, for the history.

The owner notes a change in memory (:class:`StateLog`, one dict lookup per ``cp_changed``,
which fires for every telemetry report too) and hands only real changes to the writer as a
:class:`~central_app.ledger.Batch`: a restart storm at 10,000 CPs is a handful of
multi-row INSERTs on the writer thread, never a commit on the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import insert

from central_app.db import CpStateChangeRow, Database
from central_app.views import CpStatus
from wire.timefmt import now_ts

STATES = CpStateChangeRow.__table__

#: (ts, cp_id, status, reason)
Change = tuple[str, str, str, str]


def write_changes(db: Database, changes: list[Change]) -> list[None]:
    """One transaction for a batch of changes (the writer thread)."""
    if changes:
        with db.engine.begin() as conn:
            conn.execute(
                insert(STATES),
                [{"ts": t, "cp_id": c, "status": s, "reason": r} for t, c, s, r in changes],
            )
    return [None] * len(changes)


class StateLog:
    """What status was last recorded per CP (owner only), and the batch writing the rest."""

    def __init__(self, add: Callable[[Change], Future[None]]) -> None:
        self._add = add
        self._last: dict[str, str] = {}

    def note(self, cp_id: str, status: CpStatus, reason: str = "") -> None:
        """Record ``status`` if it differs from the last one recorded for the CP."""
        if self._last.get(cp_id) == status:
            return
        self._last[cp_id] = status
        self._add((now_ts(), cp_id, status.value, reason[:200]))

    def all_disconnected(self, reason: str) -> None:
        """Central is stopping: from now on nobody watches, so every CP counts as
        DISCONNECTED until the next start records it again."""
        for cp_id in list(self._last):
            self.note(cp_id, CpStatus.DISCONNECTED, reason)
