"""The CP state-change log: one row per actual change of a CP's status, for the history.

The owner notes a change in memory (:class:`StateLog`, one dict lookup per ``cp_changed``,
which fires for every telemetry report too) and hands only real changes to the writer as a
:class:`~central_app.ledger.Batch`: a restart storm at 10,000 CPs is a handful of
multi-row INSERTs on the writer thread, never a commit on the owner.

Retention (``--state-history-days``, default 90; 0 keeps everything): rows older than the
cutoff are deleted, except each CP's newest one before it — the state in force at the
cutoff, from which availability over any later period still starts right. Central prunes
an hour after it starts and every 6 hours on its writer thread, :data:`PRUNE_CHUNK` rows per
job so ticket writes go on in between; ``evc-admin db prune`` does the same at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta

from sqlalchemy import delete, func, insert, select

from central_app.db import CpStateChangeRow, Database
from central_app.views import CpStatus
from wire.timefmt import format_ts, now_ts, utc_now

log = logging.getLogger(__name__)

STATES = CpStateChangeRow.__table__
C = STATES.c

DEFAULT_STATE_HISTORY_DAYS = 90.0
PRUNE_CHUNK = 5000  # rows examined per writer job

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


# --- retention ------------------------------------------------------------------------------


def retention_cutoff(days: float) -> str | None:
    """The wire timestamp before which state changes may go (None: ``days`` 0 keeps all)."""
    return format_ts(utc_now() - timedelta(days=days)) if days > 0 else None


def anchors(db: Database, cutoff: str) -> set[int]:
    """Each CP's newest row before ``cutoff``: its state at the cutoff, always kept."""
    with db.engine.connect() as conn:
        query = select(func.max(C.id)).where(C.ts < cutoff).group_by(C.cp_id)
        return set(conn.execute(query).scalars())


def prune_chunk(db: Database, cutoff: str, keep: set[int], after: int) -> tuple[int, int | None]:
    """Delete among the next :data:`PRUNE_CHUNK` rows before ``cutoff`` (ids above
    ``after``) all but ``keep``; returns (deleted, where to go on; None: done)."""
    with db.engine.begin() as conn:
        ids = list(
            conn.execute(
                select(C.id).where(C.ts < cutoff, C.id > after).order_by(C.id).limit(PRUNE_CHUNK)
            ).scalars()
        )
        doomed = [i for i in ids if i not in keep]
        if doomed:
            conn.execute(delete(STATES).where(C.id.in_(doomed)))
    return len(doomed), (ids[-1] if len(ids) == PRUNE_CHUNK else None)


def prune_state_changes(db: Database, cutoff: str) -> int:
    """The whole pass at once (``evc-admin``); returns the rows deleted."""
    keep, after, deleted = anchors(db, cutoff), 0, 0
    next_after: int | None = 0
    while next_after is not None:
        n, next_after = prune_chunk(db, cutoff, keep, after)
        deleted += n
        after = next_after or 0
    return deleted


class Pruning:
    """One pass on Central's writer: the anchors, then a chunk per job, each submitting the
    next when it is done (from the writer's thread), so other writes interleave."""

    def __init__(self, submit: Callable[..., Future], db: Database, cutoff: str) -> None:
        self._submit, self._db, self._cutoff = submit, db, cutoff
        self._keep: set[int] = set()
        self.deleted = 0
        self.done: Future[int] = Future()

    def start(self) -> Future[int]:
        self._then(self._submit(anchors, self._db, self._cutoff), self._anchored)
        return self.done

    def _then(self, job: Future, step: Callable) -> None:  # type: ignore[type-arg]
        def go(finished: Future) -> None:  # type: ignore[type-arg]
            exc = finished.exception()
            if exc is not None:
                self.done.set_exception(exc)
            else:
                step(finished.result())

        job.add_done_callback(go)

    def _anchored(self, keep: set[int]) -> None:
        self._keep = keep
        self._chunk(0)

    def _chunk(self, after: int) -> None:
        job = self._submit(prune_chunk, self._db, self._cutoff, self._keep, after)
        self._then(job, self._chunked)

    def _chunked(self, result: tuple[int, int | None]) -> None:
        deleted, after = result
        self.deleted += deleted
        if after is None:
            self.done.set_result(self.deleted)
        else:
            self._chunk(after)
