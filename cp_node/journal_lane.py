"""The engine's journal lane: one thread that writes the journal and sends the events, in order.

The engine's owner (``cp_node.engine_service``) decides; this lane does the slow part — the
journal's fsyncs and the producer's ``produce`` (which may wait for room when the broker is
away) — so that the owner, and the HEALTH answers that go through it, never wait on a disk.

Jobs run strictly in the order they were posted, which is what keeps the journal's promises:

- *journal first*: a ``supply_started``/``supply_progress`` is posted after the write of the
  record that covers it, so it leaves only once that record is durable;
- *seen before obeyed*: ``write_replay`` returns a future that is done once the replay
  window is on disk (or its write failed and was reported); the owner obeys the command only
  then (see ``EngineService`` for the rule);
- a journal ``clear`` runs after everything posted before it.

Journal writes are coalesced: a running-supply record posted while an earlier one still waits
in the lane replaces it (and so is written no later than the events posted after that earlier
one). With a slow disk the lane thus holds at most one pending record, not one per second.
Failures are reported through ``say`` (once, not every second) and never raised.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from cp_core.journal import Journal

log = logging.getLogger(__name__)


@dataclass
class _Job:
    kind: str  # "write", "replay", "clear" or "call"
    journal: Journal | None = None
    record: dict[str, Any] | None = None
    fn: Callable[[], object] | None = None
    done: Future[None] = field(default_factory=Future)


class JournalLane:
    """One thread running journal writes and sends in the order they were posted."""

    def __init__(self, say: Callable[[str], object], name: str = "engine-journal") -> None:
        self._say = say
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._running: _Job | None = None
        self._closing = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 3.0) -> bool:
        """Run what is queued (up to ``timeout`` s), then stop; True when nothing was left."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            left = len(self._jobs) + (self._running is not None)
        if left:
            log.warning("journal lane stopped with %d jobs not run", left)
        return left == 0

    @property
    def idle(self) -> bool:
        """Nothing queued or running (everything posted so far is done)."""
        with self._cond:
            return not self._jobs and self._running is None

    # --- posting (the owner) -------------------------------------------------------------------

    def write(self, journal: Journal, record: dict[str, Any]) -> None:
        """Write ``record`` as the journal; replaces a write of it still waiting here."""
        with self._cond:
            for job in reversed(self._jobs):
                if job.journal is journal and job.kind in ("write", "clear"):
                    if job.kind == "write":
                        job.record = record  # the newer record, written no later
                        return
                    break
            self._put(_Job("write", journal, record))

    def write_replay(self, journal: Journal, record: dict[str, Any]) -> Future[None]:
        """Store the replay window; the future is done once it is durable or failed."""
        job = _Job("replay", journal, record)
        with self._cond:
            self._put(job)
        return job.done

    def clear(self, journal: Journal) -> None:
        with self._cond:
            self._put(_Job("clear", journal))

    def call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` (a send) after everything posted before it."""
        with self._cond:
            self._put(_Job("call", fn=fn))

    def _put(self, job: _Job) -> None:
        self._jobs.append(job)
        self._cond.notify()

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._running = self._jobs.popleft()
            try:
                self._do(job)
            except Exception:  # a bug in one job must not stop the lane
                log.exception("journal lane job %s failed", job.kind)
            finally:
                with self._cond:
                    self._running = None
                if not job.done.done():
                    job.done.set_result(None)

    def _do(self, job: _Job) -> None:
        if job.kind == "call":
            assert job.fn is not None
            job.fn()
            return
        assert job.journal is not None
        if job.kind == "clear":
            job.journal.clear()
            return
        assert job.record is not None
        try:
            if job.kind == "replay":
                job.journal.write_replay(job.record)
            else:
                job.journal.write(job.record)
        except OSError as exc:
            if job.kind == "replay":
                self._say(f"Journal write failed ({exc}): a restart may not refuse a replay")
            elif not self._failing:
                self._say(f"Journal write failed ({exc}): a crash now would lose this supply")
                self._failing = True
            return
        if job.kind == "write" and self._failing:
            self._say("Journal writable again")
            self._failing = False
