"""The Kafka side of a standby's read-only window: two topic tails feeding a ``StandbyView``.

Like the driver (``driver_app.runtime``), it reads the compacted ``evc.network.state`` from
the beginning (every CP's last state, then its changes) and ``central_alive`` from the end,
with ``TopicTail`` (assigned partitions, no group, nothing committed: a standby must leave
no trace in the active Central's consumer group). One daemon thread, stopped by ``close``.
"""

from __future__ import annotations

import logging

from central_app.standby_view import StandbyView
from wire.errors import KafkaError
from wire.kafka.security import KafkaSecurity
from wire.kafka.tail import TopicTail, network_tails
from wire.kafka.topics import Topics
from wire.worker import Worker

__all__ = ["StandbyFeed"]

log = logging.getLogger(__name__)

POLL_S = 0.2  # one tail's wait per turn: the window's rows lag the topic by at most this
RETRY_S = 2.0  # between attempts to open the tails while Kafka is unreachable


class StandbyFeed(Worker):
    def __init__(
        self,
        view: StandbyView,
        kafka: str,
        topics: Topics,
        security: KafkaSecurity | None = None,
    ) -> None:
        super().__init__("standby-feed")
        self.view, self.kafka, self.topics, self.security = view, kafka, topics, security

    def _tails(self) -> tuple[TopicTail, TopicTail]:
        # the group ``<prefix>central-view-tail-…`` (wire.kafka.acls lets Central use it)
        client_id = f"{self.topics.prefix}central-view"
        return network_tails(self.kafka, self.topics, client_id, self.security)

    def _run(self) -> None:
        tails: tuple[TopicTail, TopicTail] | None = None
        loaded = False
        try:
            while not self._stop.is_set():
                if tails is None:
                    try:
                        tails = self._tails()
                    except KafkaError as exc:
                        log.warning("standby view: cannot read Kafka yet: %s", exc)
                        self._stop.wait(RETRY_S)
                        continue
                try:
                    for tail in tails:
                        tail.poll(self.view.on_event, timeout=POLL_S)
                    if tails[0].caught_up:  # the broker answered: the replay reached the end
                        if not loaded:
                            loaded = True
                            n = len(self.view.snapshot())
                            log.info("standby view: %d charging points from the network state", n)
                        self.view.set_kafka_up(True)
                except KafkaError as exc:
                    log.warning("standby view: %s", exc)
                    self.view.set_kafka_up(False)
                    self._stop.wait(RETRY_S)
        finally:
            for tail in tails or ():
                tail.close()
