"""The standby's window is fed from Kafka: ``StandbyFeed`` over a real broker."""

from __future__ import annotations

from central_app.standby_feed import StandbyFeed
from central_app.standby_view import StandbyView
from central_app.views import CpStatus, LinkStatus
from tests.waiting import wait_for
from wire.kafka.messages import CentralAlive, CpState
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics


class _Links:
    def __init__(self) -> None:
        self.seen: list[LinkStatus] = []

    def cp_changed(self, cp: object) -> None: ...

    def request_changed(self, request: object) -> None: ...

    def logged(self, entry: object) -> None: ...

    def links_changed(self, links: LinkStatus) -> None:
        self.seen.append(links)


def test_published_state_reaches_the_view(kafka_bootstrap: str, topics: Topics) -> None:
    producer = EventProducer(kafka_bootstrap, client_id="test-standby-feed")
    # published before the standby starts: the compacted topic is read from the beginning
    state = CpState(cp_id="CP-01", location="Old Town", x=1.0, y=2.0, price=0.4, status="ACTIVE")
    producer.send(topics.network_state, "CP-01", state)
    producer.flush()
    view = StandbyView("central-b")
    links = _Links()
    view.add_listener(links)
    feed = StandbyFeed(view, kafka_bootstrap, topics)
    feed.start()
    try:
        wait_for(lambda: [cp.cp_id for cp in view.snapshot()] == ["CP-01"], 20, "CP-01")
        stopped = CpState(
            cp_id="CP-01", location="Old Town", x=1.0, y=2.0, price=0.4, status="STOPPED"
        )
        producer.send(topics.network_state, "CP-01", stopped)
        alive = CentralAlive(central_id="central-a", started_at="", role="active")
        wait_for(
            lambda: (
                (producer.send(topics.central_status, "central", alive) or producer.flush() or True)
                and any(link.active_id == "central-a" for link in links.seen)
            ),
            20,
            "central-a named as the active one",
        )
        wait_for(lambda: view.snapshot()[0].status is CpStatus.STOPPED, 20, "CP-01 STOPPED")
        assert view.links().role == "standby" and view.links().kafka_up
    finally:
        feed.close()
        producer.close()
