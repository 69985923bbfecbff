"""A standby Central: until it holds the pair's lock it refuses monitors and says it is there.

While the other Central of the pair is active, this one loads nothing and writes nothing. It
listens on its port and answers every ENQ with NACK (PROTOCOL.md: a monitor given
``--central H:P,H:P`` then tries the next address), and it publishes ``central_alive`` with
``role: standby`` every second, so operators and drivers can see the pair. It asks for the
lock every ``POLL_S``; the moment it gets it, this phase ends and the runtime starts as the
active Central (``runtime.CentralRuntime.start``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time

from central_app.leadership import POLL_S, Leadership
from wire.aio import new_event_loop
from wire.errors import KafkaError
from wire.kafka.admin import ensure_topics
from wire.kafka.messages import CentralAlive
from wire.kafka.producer import EventProducer
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.tcp_server import FramedServer

log = logging.getLogger(__name__)

REFUSAL = "standby Central: the active one serves monitors"
CLOSE_S = 0.2  # what the end of the standby phase may wait for sockets and the producer


def _refuse(*_args: object) -> None:  # never called: every ENQ is refused
    return None


class Standby:
    """The standby's TCP refusal and ``central_alive``, for as long as ``wait`` runs."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        kafka: str,
        topics: Topics,
        security: KafkaSecurity | None,
        central_id: str,
        started_at: str,
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.kafka, self.topics, self.security = kafka, topics, security
        self.central_id, self.started_at = central_id, started_at

    def wait(self, leadership: Leadership, abandon: threading.Event, say=lambda text: None) -> bool:  # type: ignore[no-untyped-def]
        """Block until ``leadership`` is ours (True) or ``abandon`` is set (False)."""
        loop = new_event_loop()
        core = threading.Thread(target=loop.run_forever, name="central-standby", daemon=True)
        core.start()
        server = FramedServer(_refuse, host=self.host, port=self.port, ssl=self.tls)  # type: ignore[arg-type]
        server.refusing = REFUSAL
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        producer = EventProducer(self.kafka, client_id="central-standby", security=self.security)
        topics_ok = False
        next_alive = 0.0
        say(f"standby: monitors refused on port {self.port} until the active Central goes")
        try:
            while not abandon.is_set():
                if leadership.try_acquire():
                    return True
                now = time.monotonic()
                if now >= next_alive:
                    next_alive = now + 1.0
                    topics_ok = topics_ok or self._topics()
                    if topics_ok:
                        alive = CentralAlive(
                            central_id=self.central_id, started_at=self.started_at, role="standby"
                        )
                        self._send(producer, alive)
                abandon.wait(POLL_S)
            return False
        finally:
            # quickly: the refused monitors only had NACKs, and a standby's alive can be lost
            try:
                asyncio.run_coroutine_threadsafe(server.close(timeout=CLOSE_S), loop).result(
                    timeout=5
                )
            except Exception:
                log.exception("closing the standby's TCP server")
            loop.call_soon_threadsafe(loop.stop)
            core.join(timeout=5)
            if not loop.is_running():
                loop.close()  # a standby may wait many times in one process's life
            producer.close(CLOSE_S)

    def _topics(self) -> bool:
        try:
            ensure_topics(self.kafka, self.topics, timeout=2.0, security=self.security)
        except KafkaError as exc:
            log.debug("standby: topics not verified yet: %s", exc)
            return False
        return True

    def _send(self, producer: EventProducer, alive: CentralAlive) -> None:
        try:
            producer.send(self.topics.central_status, "central", alive)
            producer.poll(0)
        except KafkaError as exc:
            log.debug("standby: central_alive not queued: %s", exc)
