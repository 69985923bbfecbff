"""The one Kafka consume loop: open a consumer (retrying), poll it, reopen after a failure.

Central, the engine and the driver each keep a consumer alive on a thread of their own while
the broker comes and goes. What differs between them is what "open" means (verify topics,
subscribe as a group, assign the partition of one key, open three clients), what one poll
does, and whether a failed poll is worth a new consumer (Central's group consumer) or only a
pause (librdkafka reconnects an assigned consumer by itself). The loop is written once here;
they pass those differences in.

One turn of the loop::

    between()                       every turn: the producer's poll(0), queued commands, ticks
    consumer is None?  open()       None: not possible yet (no CP id, no key) -> wait not_ready_s
                                    KafkaError -> on_problem once per series, wait retry_s
                                    a consumer -> on_ready(consumer)
    poll(consumer)                  KafkaError -> on_problem once per series, then close and
                                    reopen (reopen=True) or keep it, and wait poll_retry_s

Waits go through ``wait`` (default: ``stop.wait``), so a caller that must stay responsive
while Kafka is away (the driver runs its UI's commands) passes its own. The consumer is
closed when the loop ends. Nothing here touches Kafka itself: the loop is unit-tested with
plain callables.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from wire.errors import KafkaError

log = logging.getLogger(__name__)

C = TypeVar("C")


def _close(consumer: object) -> None:
    close = getattr(consumer, "close", None)
    if close is not None:
        close()


@dataclass
class ConsumeLoop(Generic[C]):
    open: Callable[[], C | None]
    poll: Callable[[C], object]
    stop: threading.Event
    between: Callable[[], object] = lambda: None
    on_ready: Callable[[C], object] = lambda consumer: None
    on_closed: Callable[[], object] = lambda: None
    #: ("open" or "poll", the error): the first failure of a series (a success ends it)
    on_problem: Callable[[str, KafkaError], object] = lambda stage, exc: None
    close: Callable[[C], object] = _close
    reopen: bool = True  # a failed poll closes the consumer and opens a new one
    retry_s: float = 2.0  # the wait after a failure
    poll_retry_s: float | None = None  # the wait after a failed poll (None: retry_s)
    not_ready_s: float = 0.1  # the wait while ``open`` says not yet
    wait: Callable[[float], object] | None = None  # default: stop.wait
    consumer: C | None = field(default=None, init=False)
    failures: int = field(default=0, init=False)  # of the current series

    def run(self) -> None:
        """Loop until ``stop`` is set; never raises a ``KafkaError``."""
        wait = self.wait or self.stop.wait
        try:
            while not self.stop.is_set():
                self.between()
                if self.consumer is None:
                    try:
                        consumer = self.open()
                    except KafkaError as exc:
                        self._failed("open", exc)
                        wait(self.retry_s)
                        continue
                    if consumer is None:
                        wait(self.not_ready_s)
                        continue
                    self.consumer = consumer
                    self.on_ready(consumer)
                try:
                    self.poll(self.consumer)
                except KafkaError as exc:
                    self._failed("poll", exc)
                    if self.reopen:
                        self._drop()
                    wait(self.retry_s if self.poll_retry_s is None else self.poll_retry_s)
                else:
                    self.failures = 0
        finally:
            self._drop()

    def _failed(self, stage: str, exc: KafkaError) -> None:
        self.failures += 1
        if self.failures == 1:
            self.on_problem(stage, exc)
        else:
            log.debug("kafka %s failed again: %s", stage, exc)

    def _drop(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        try:
            self.close(consumer)
        except Exception:  # closing must not hide why the loop stopped
            log.exception("closing a Kafka consumer")
        self.on_closed()
