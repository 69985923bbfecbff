"""The one thread that talks to the database, so Central's core never waits on it.

Central's state has one owner (the core loop, see ``runtime``); the database is its durable
log. The owner hands every database job to :class:`DbWriter` and gets a
``concurrent.futures.Future`` back; jobs run one at a time in the order they were submitted,
so "the session row is written before the ticket" holds without locks.

A database outage (``OperationalError``: SQLite locked by another process, a PostgreSQL
server restarting, a dropped connection) is not an error of the job: the writer retries the
same job with a capped back-off until the database answers, saying once that it is down and
once that it is back. Nothing queued behind it is lost or reordered, and whoever waits on
the job (the Kafka consumer before storing its offsets) simply waits: consumption pauses
instead of dead-lettering a ``supply_ended``. Any other exception fails only that job.

:class:`InlineWriter` runs jobs at once on the caller's thread: the same contract for unit
tests of the desks, which stay deterministic without threads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from central_app.counts import DB_JOB_BOUNDS
from central_app.db import Fenced
from wire.tally import FastHistogram

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_RETRY_S = 0.1
MAX_RETRY_S = 2.0


def transient(exc: BaseException) -> bool:
    """True for errors that mean "the database is not reachable right now"."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Writer(Protocol):
    def submit(self, job: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``job(*args)``; the future holds its result once committed."""
        ...

    def barrier(self) -> Future[None]:
        """A future that completes when every job submitted so far has finished."""
        ...


class InlineWriter:
    """Runs each job immediately (unit tests): futures are already done when returned."""

    def submit(self, job: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(job(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def barrier(self) -> Future[None]:
        future: Future[None] = Future()
        future.set_result(None)
        return future


class DbWriter:
    """A daemon thread executing database jobs in order, retrying through outages."""

    def __init__(
        self,
        *,
        on_health: Callable[[bool, str], None] = lambda ok, detail: None,
        on_fenced: Callable[[], None] = lambda: None,
        name: str = "central-db",
    ) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None
        ]
        self._jobs = queue.SimpleQueue()
        self._on_health = on_health
        # a write refused because another Central raised the epoch: this one is deposed
        # even if its lease still looks fresh (it must step down, not go on with every
        # write fenced; found by evc-chaos, finding 11)
        self._on_fenced = on_fenced
        self._stop = threading.Event()
        self._healthy = True
        self._pending = 0
        self._pending_lock = threading.Lock()
        # s per job that succeeded (its transaction, commit included), written on this thread
        # alone and read by the metrics (central_app.metrics); a job retried through an
        # outage counts its last, successful attempt
        self.job_seconds = FastHistogram(DB_JOB_BOUNDS)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def backlog(self) -> int:
        """Jobs submitted and not finished yet (shown when the database is down)."""
        return self._pending

    def submit(self, job: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        if self._stop.is_set():
            future.set_exception(RuntimeError("Central is stopping"))
            return future
        with self._pending_lock:
            self._pending += 1
        self._jobs.put((job, args, future))
        return future

    def barrier(self) -> Future[None]:
        return self.submit(lambda: None)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued (while the database answers), then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, args, future = item
            try:
                if future.set_running_or_notify_cancel():
                    self._execute(job, args, future)
            finally:
                with self._pending_lock:
                    self._pending -= 1

    def _execute(self, job: Callable[..., Any], args: tuple[Any, ...], future: Future[Any]) -> None:
        delay = FIRST_RETRY_S
        while True:
            started = time.perf_counter()
            try:
                result = job(*args)
            except Exception as exc:
                if transient(exc) and not self._stop.is_set():
                    self._health(False, str(exc).splitlines()[0][:200])
                    if self._stop.wait(delay):
                        future.set_exception(exc)
                        return
                    delay = min(delay * 2, MAX_RETRY_S)
                    continue
                if isinstance(exc, Fenced):  # a deposed active: said once by the runtime
                    log.info("database job %s fenced: %s", getattr(job, "__name__", job), exc)
                    self._on_fenced()
                elif not transient(exc):
                    log.exception("database job %s failed", getattr(job, "__name__", job))
                future.set_exception(exc)
                return
            self.job_seconds.observe(time.perf_counter() - started)
            self._health(True, "")
            future.set_result(result)
            return

    def _health(self, ok: bool, detail: str) -> None:
        if ok == self._healthy:
            return
        self._healthy = ok
        try:
            self._on_health(ok, detail)
        except Exception:
            log.exception("database health callback failed")
