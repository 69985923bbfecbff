"""One owner thread for a state that several threads act on (the engine's, like the driver's
and Central's): it runs the jobs posted to its inbox one at a time and ticks in between.

Other threads never touch the state: they ``post`` a job, and when they need its answer wait
on the returned future with a deadline (``call``), so a slow owner is a time-out they handle,
never a lock they are stuck on. A job's exception goes to its future; the owner goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Owner:
    def __init__(
        self,
        *,
        name: str,
        period: float,
        tick: Callable[[float], object],
        after: Callable[[float], object] = lambda now: None,
    ) -> None:
        """``tick(now)`` every ``period`` s; ``after(now)`` after every job and tick (e.g.
        publish a snapshot for readers that must not wait)."""
        self._period = period
        self._tick = tick
        self._after = after
        self._inbox: queue.SimpleQueue[tuple[Callable[[], object], Future]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop after the current job; jobs still in the inbox are not run."""
        self._stop.set()
        self.post(lambda: None)  # wake it
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def post(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner soon (from any thread); its result arrives in the future."""
        future: Future[T] = Future()
        self._inbox.put((fn, future))
        return future

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn`` on the owner and return its result (``TimeoutError`` after
        ``timeout``). Without a running owner (before ``start``, after ``stop``) the caller
        is the only thread left and runs it itself."""
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return fn()
        return self.post(fn).result(timeout)

    def _run(self) -> None:
        next_tick = time.monotonic() + self._period
        while not self._stop.is_set():
            try:
                fn, future = self._inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                pass
            else:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except Exception as exc:  # the waiter sees it; the owner goes on
                        future.set_exception(exc)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self._period
                try:
                    self._tick(now)
                except Exception:  # one bad tick must not stop the owner
                    log.exception("%s: tick failed", self._thread.name)
            self._after(now)
