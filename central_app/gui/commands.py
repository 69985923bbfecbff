"""The operator's Stop / Resume, posted: the GUI thread never waits for Central's core.

The core's ``stop_cp`` (and the others) post the command to the owner and return a
``concurrent.futures.Future`` at once; a fake or a read-only view may return None (done) or
raise (refused). :class:`PostedCommands` sends one batch (Stop on the selected CPs), collects
each outcome as it arrives — the future completes on the owner's thread and hands over to
the GUI thread through a queued signal — and reports the batch once every outcome is in, or
when ``deadline_s`` has passed without some of them (the owner is stuck or gone).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

__all__ = ["Outcome", "PostedCommands"]

log = logging.getLogger(__name__)

DEADLINE_S = 10.0  # the core's own CALL_TIMEOUT: past it the owner is stuck, say so


@dataclass
class Outcome:
    """A batch's result: ``what`` ("Stop"), the targets applied and those that failed."""

    what: str
    applied: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (target, reason)
    pending: set[str] = field(default_factory=set)
    posting: bool = True  # still sending: an outcome that arrives at once must not end it
    order: list[str] = field(default_factory=list)  # as sent: outcomes are told in this order


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class PostedCommands(QObject):
    """Posts commands and reports their outcomes on the GUI thread (``finished``)."""

    finished = Signal(object)  # Outcome, on the GUI thread
    _arrived = Signal(int, str, object)  # batch, target, None or the reason it failed

    def __init__(self, parent: QObject | None = None, *, deadline_s: float = DEADLINE_S) -> None:
        super().__init__(parent)
        self.deadline_s = deadline_s
        self._batches: dict[int, Outcome] = {}
        self._ids = itertools.count(1)
        # emitted from the owner's thread: queued to this object's (the GUI) thread
        self._arrived.connect(self._on_arrived)

    @property
    def pending(self) -> int:
        """Commands posted whose outcome has not arrived (tests)."""
        return sum(len(b.pending) for b in self._batches.values())

    def post(self, what: str, calls: Sequence[tuple[str, Callable[[], object]]]) -> list[str]:
        """Send each ``(target, call)``; returns the targets sent. A call that raises at once
        (a read-only standby, a stopped core) is a failure of the batch, not an exception."""
        batch_id = next(self._ids)
        outcome = Outcome(what)
        self._batches[batch_id] = outcome
        sent: list[str] = []
        for target, call in calls:
            outcome.order.append(target)
            try:
                result = call()
            except Exception as exc:
                log.warning("%s %s failed", what, target, exc_info=True)
                outcome.failed.append((target, _reason(exc)))
                continue
            sent.append(target)
            if isinstance(result, Future):
                outcome.pending.add(target)
                result.add_done_callback(
                    lambda done, b=batch_id, t=target: self._arrived.emit(b, t, _failure(done))
                )
            else:
                outcome.applied.append(target)
        outcome.posting = False
        if outcome.pending:
            QTimer.singleShot(round(self.deadline_s * 1000), self, lambda: self._expire(batch_id))
        else:
            self._finish(batch_id)
        return sent

    def _on_arrived(self, batch_id: int, target: str, failure: str | None) -> None:
        outcome = self._batches.get(batch_id)
        if outcome is None or target not in outcome.pending:
            log.info("%s: late outcome ignored (%s)", target, failure or "applied")
            return
        outcome.pending.discard(target)
        if failure is None:
            outcome.applied.append(target)
        else:
            outcome.failed.append((target, failure))
        if not outcome.pending and not outcome.posting:
            self._finish(batch_id)

    def _expire(self, batch_id: int) -> None:
        outcome = self._batches.get(batch_id)
        if outcome is None:
            return
        for target in sorted(outcome.pending):
            outcome.failed.append(
                (target, f"Central's core did not answer within {self.deadline_s:.0f} s")
            )
        outcome.pending.clear()
        self._finish(batch_id)

    def _finish(self, batch_id: int) -> None:
        outcome = self._batches.pop(batch_id)
        rank = {target: i for i, target in enumerate(outcome.order)}
        outcome.applied.sort(key=rank.__getitem__)
        outcome.failed.sort(key=lambda failure: rank[failure[0]])
        self.finished.emit(outcome)


def _failure(done: Future[object]) -> str | None:
    """None if the command was applied, else why not (on the thread that completed it)."""
    if done.cancelled():
        return "cancelled"
    exc = done.exception()
    return None if exc is None else _reason(exc)
