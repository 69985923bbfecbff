"""``Owner``: the ``central-core`` thread and its event loop, and the ways other threads hand
work to it.

Central's state has one owner (docs/central.md, "One owner"): everything in the hub runs on
this loop, so nothing in it is locked. Other threads never touch that state; they *post*
(``post``: fire and forget), *submit* (a ``Future`` of the result, returned at once: the
GUI's commands must not wait for a busy owner), *call* (submit and wait) or hand over a Kafka
batch (``in_chunks``: handled a chunk at a time so heartbeats are answered in between).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from wire.aio import new_event_loop
from wire.kafka.consumer import Received

log = logging.getLogger(__name__)

OWNER_CHUNK = 32  # Kafka events handled on the owner per hand-over
CALL_TIMEOUT = 10.0

T = TypeVar("T")

Failures = list[tuple[Received, Exception]]


class ChunkedRun:
    """One Kafka batch handled on the owner a chunk at a time, each chunk scheduling the next
    (``call_soon``: after the loop has served the sockets that are ready).

    The owner chains the chunks itself: a hand-over per chunk waited each time for the
    consumer thread to get the GIL back (up to the 5 ms switch interval while the owner is
    busy); at 10,000 CPs chaining took the heartbeats' p99 from 151 to 109 ms. A class, not a
    closure that schedules itself: such a closure is a reference cycle that kept every batch
    (thousands of events a second) alive until the cyclic collector ran, and its collections
    of ~20,000 objects stopped every thread for 10-70 ms (docs/performance.md).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[Received],
        handle: Callable[[list[Received]], Failures],
    ) -> None:
        self._loop = loop
        self._batch = batch
        self._handle = handle
        self._failures: Failures = []
        self.done: Future[Failures] = Future()

    def step(self, start: int) -> None:
        try:
            self._failures.extend(self._handle(self._batch[start : start + OWNER_CHUNK]))
        except BaseException as exc:  # the handler catches per event; never hang here
            self.done.set_exception(exc)
            return
        if start + OWNER_CHUNK < len(self._batch):
            self._loop.call_soon(self.step, start + OWNER_CHUNK)
        else:
            self.done.set_result(self._failures)


class Owner:
    """The owner thread's loop (uvloop where installed), started by ``start``."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = new_event_loop()
        self.loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="central-core", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self.loop is not None and self.loop.is_running()

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the owner soon (from any thread); its exception is logged."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(_guarded, fn)
        except RuntimeError:  # the loop closed meanwhile: Central is stopping
            log.debug("posted work dropped: the core has stopped")

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = CALL_TIMEOUT) -> T:
        """Run ``fn(*args)`` on the owner and return its result (from any thread)."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        return self.submit(fn, *args).result(timeout)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Post ``fn(*args)`` to the owner and return at once: its result or exception
        arrives in the future (the GUI's commands must not wait for a busy owner)."""
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)

        loop = self._open_loop()
        loop.call_soon_threadsafe(run)
        return future

    def run(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the owner's loop (the TCP server, the timers)."""
        return asyncio.run_coroutine_threadsafe(coro, self._open_loop())

    def in_chunks(
        self, batch: list[Received], handle: Callable[[list[Received]], Failures]
    ) -> Failures:
        """Handle ``batch`` on the owner in chunks of ``OWNER_CHUNK`` (:class:`ChunkedRun`),
        so heartbeats are answered between chunks instead of after hundreds of events; waits
        for the whole batch."""
        loop = self._open_loop()
        run = ChunkedRun(loop, batch, handle)
        loop.call_soon_threadsafe(run.step, 0)
        chunks = -(-len(batch) // OWNER_CHUNK)
        return run.done.result(CALL_TIMEOUT * max(1, chunks))

    def stop(self) -> None:
        """Stop the loop, wait for the thread, and close the loop."""
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()  # its epoll, eventfd and pipes: a pair's Central stops and starts again

    def _open_loop(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError("Central's core is not running")
        return loop


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("core step failed")
