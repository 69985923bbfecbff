"""The Kafka side of EV_Web: ``evc.network.state`` read into the hub, on one daemon thread.

Like the driver's network view and a standby Central's window (``central_app.standby_feed``)
it reads the compacted topic from the beginning with ``TopicTail`` (every CP's last state,
then its changes; assigned partitions, nothing committed) as the read-only ``web`` role
(``wire.kafka.acls``). It reads no other topic: not even ``central_alive``, which that role
may not read. Each event goes to the event loop's thread; the hub is never touched here.
"""

from __future__ import annotations

import asyncio
import logging
import time

from web_app.board import FeedStatus
from web_app.hub import Hub
from wire.errors import KafkaError
from wire.kafka.messages import NETWORK_STATE, CpState, Event
from wire.kafka.security import KafkaSecurity
from wire.kafka.tail import TopicTail
from wire.kafka.topics import Topics
from wire.worker import Worker

__all__ = ["NetworkFeed"]

log = logging.getLogger(__name__)

POLL_S = 0.2  # one wait for events: the page lags the topic by at most this
RETRY_S = 2.0  # between attempts to open the tail while Kafka is unreachable
SLOW_S = 10.0  # no end of the replay after this long: the page says it is still waiting


class NetworkFeed(Worker):
    def __init__(
        self,
        hub: Hub,
        loop: asyncio.AbstractEventLoop,
        kafka: str,
        topics: Topics,
        security: KafkaSecurity | None = None,
    ) -> None:
        super().__init__("web-feed")
        self.hub, self.loop, self.kafka, self.topics = hub, loop, kafka, topics
        self.security = security

    def _open(self) -> TopicTail:
        # the group ``<prefix>web-tail-…``: the only group the web role may use
        return TopicTail(
            self.kafka,
            self.topics.network_state,
            self.topics.partitions_of(self.topics.network_state),
            NETWORK_STATE,
            from_beginning=True,
            client_id=f"{self.topics.prefix}web",
            security=self.security,
            watch_broker=True,
        )

    def _status(self, status: FeedStatus) -> None:
        self.loop.call_soon_threadsafe(self.hub.set_status, status)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CpState):
            self.loop.call_soon_threadsafe(self.hub.apply, event)

    def _run(self) -> None:
        tail: TopicTail | None = None
        started = time.monotonic()
        status = FeedStatus()
        try:
            while not self._stop.is_set():
                try:
                    if tail is None:
                        tail = self._open()
                    tail.poll(self._on_event, timeout=POLL_S)
                except KafkaError as exc:
                    log.warning("cannot read the network state: %s", exc)
                    status = FeedStatus(status.loaded, "The live data is unreachable.")
                    self._status(status)
                    self._stop.wait(RETRY_S)
                    continue
                status = self._next_status(tail, status, started)
        finally:
            if tail is not None:
                tail.close()

    def _next_status(self, tail: TopicTail, status: FeedStatus, started: float) -> FeedStatus:
        problem = tail.auth_problem
        if problem is not None:
            new = FeedStatus(status.loaded, "The live data is not available (access refused).")
        elif not tail.broker_up:
            new = FeedStatus(status.loaded, "The live data is unreachable.")
        elif tail.caught_up:
            if not status.loaded:
                log.info("network state loaded: %d charging points", len(self.hub.board))
            new = FeedStatus(True, None)
        elif time.monotonic() - started > SLOW_S:
            new = FeedStatus(status.loaded, "Waiting for the live data…")
        else:
            new = status
        if new != status:
            if problem is not None and status.problem != new.problem:
                log.error("Kafka refused EV_Web: %s", problem)
            elif not tail.broker_up and status.problem != new.problem:
                log.warning("Kafka unreachable: the page says its data is not live")
            self._status(new)
        return new
