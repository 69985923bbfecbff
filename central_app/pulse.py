"""``Pulse``: Central's once-a-second — the hub's folded lines and live values flushed,
``central_alive`` on Kafka (what the monitors' engines and a standby watch), Kafka going
down or coming back said once, and the link status the views show (``LinkStatus``)."""

from __future__ import annotations

from central_app.config import CentralConfig
from central_app.db import Database
from central_app.db_writer import DbWriter
from central_app.hub import Hub
from central_app.kafka_loop import KafkaLink
from central_app.pair_role import PairRole
from central_app.views import LinkStatus, LogLevel
from wire.kafka.messages import CentralAlive


class Pulse:
    def __init__(
        self,
        cfg: CentralConfig,
        *,
        hub: Hub,
        kafka: KafkaLink,
        writer: DbWriter,
        db: Database,
        pair: PairRole,
        started_at: str,
        port: int,
    ) -> None:
        self._cfg = cfg
        self._hub = hub
        self._kafka = kafka
        self._writer = writer
        self._db = db
        self._pair = pair
        self._started_at = started_at
        self._port = port
        self._was_up = False
        self.links: LinkStatus | None = None  # the last told, read by any thread

    def every_second(self) -> None:
        hub, kafka = self._hub, self._kafka
        hub.flush_tally()
        hub.flush_live()
        up = kafka.up
        if up:
            kafka.send(
                hub.topics.central_status,
                "central",
                CentralAlive(
                    central_id=self._cfg.central_id,
                    started_at=self._started_at,
                    role="active" if self._pair.leadership is not None else None,
                ),
            )
        if up and not self._was_up:
            hub.say(f"Kafka at {self._cfg.kafka} is up", source="kafka")
            hub.republish_all()
        elif self._was_up and not up:
            hub.say(
                f"Kafka at {self._cfg.kafka} is down; events are queued", LogLevel.WARNING, "kafka"
            )
        self._was_up = up
        self.update_links()

    def update_links(self) -> None:
        """Tell the views the links' status when it changed."""
        paired = self._pair.leadership is not None
        links = LinkStatus(
            kafka_up=self._kafka.up,
            database_ok=self._writer.healthy,
            database_url=self._db.safe_url(),
            tcp_port=self._port,
            monitors_connected=sum(1 for cp in self._hub.cps.values() if cp.monitor_up),
            central_id=self._cfg.central_id if paired else "",
            role=self._pair.role if paired else "",
        )
        if links != self.links:
            self.links = links
            self._hub.emit_links(links)
