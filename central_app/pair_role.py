"""``PairRole``: this Central's place in an active/standby pair (docs/operations.md): waiting as
the standby until it holds the pair's lock, keeping the lease alive on the ``central-lease``
thread, and stepping down on the owner the moment a renewal is missing.

``leadership`` is None for a lone Central (SQLite, or ``pair=False``): then it is always the
active one and nothing here runs."""

from __future__ import annotations

import ssl
import threading
import time

from central_app.config import CentralConfig, StartError
from central_app.hub import Hub
from central_app.leadership import RENEW_S, Leadership
from central_app.monitors import MonitorDesk
from central_app.standby import Standby
from central_app.views import LogLevel
from wire.kafka.topics import Topics
from wire.tcp_server import FramedServer
from wire.timefmt import now_ts


def print_line(text: str) -> None:
    """A line for the operator on stdout (the pair's role changes, before the hub exists)."""
    print(f"EV_Central: {text}", flush=True)


class PairRole:
    def __init__(self, cfg: CentralConfig, stopped: threading.Event) -> None:
        self._cfg = cfg
        self._stopped = stopped  # the runtime's stop: the lease thread ends with it
        self.leadership: Leadership | None = None
        self.role = "active"
        self.deposed = threading.Event()  # lost the lock: the owner stopped serving
        self._abandon = threading.Event()  # stop waiting as standby

    def abandon(self) -> None:
        """Stop waiting as standby (from a signal handler: only sets an event)."""
        self._abandon.set()

    def fenced(self) -> None:
        """A write was fenced: another Central took office (the database writer's thread)."""
        if self.leadership is not None:
            self.leadership.forfeit()

    def holds(self) -> bool:
        """Still entitled to serve: a lone Central always, one of a pair while its lease is
        fresh (the Kafka gate asks before each send)."""
        return self.leadership is None or self.leadership.holds(time.monotonic())

    def stand_by(self, tls: ssl.SSLContext | None, topics: Topics, started_at: str) -> None:
        """Wait as the standby of the pair until this Central holds its lock."""
        cfg = self._cfg
        self.leadership = Leadership(cfg.db_url, cfg.central_id)
        self.role = "standby"
        standby = Standby(
            host=cfg.host,
            port=cfg.port,
            tls=tls,
            kafka=cfg.kafka,
            topics=topics,
            security=cfg.kafka_security,
            central_id=cfg.central_id,
            started_at=started_at,
        )
        try:
            if not standby.wait(self.leadership, self._abandon, say=print_line):
                raise StartError("stopped while standby")
        except OSError as exc:
            raise StartError(f"cannot listen on {cfg.host}:{cfg.port} as standby: {exc}") from exc
        self.role = "active"
        print_line(f"{cfg.central_id}: took over as the active Central at {now_ts()}")
        threading.Thread(target=self._renew_lease, name="central-lease", daemon=True).start()

    def _renew_lease(self) -> None:
        """Keep the lock session alive (``leadership.RENEW_S``) until it is lost or we stop."""
        leadership = self.leadership
        assert leadership is not None
        while not self._stopped.wait(RENEW_S) and not self.deposed.is_set():
            if not leadership.renew():
                return  # the owner's next tick steps down (``check``)

    def check(
        self, now: float, hub: Hub, monitors: MonitorDesk, server: FramedServer | None
    ) -> None:
        """On the owner, every tick: without a fresh renewal, stop serving at once."""
        leadership = self.leadership
        if leadership is None or self.deposed.is_set() or leadership.holds(now):
            return
        self.deposed.set()  # from now on nothing is sent (the Kafka gate) or committed (fence)
        self.role = "standby"
        hub.say(
            "lost the leadership of the pair (no lease renewal, or another Central took "
            "office): stepped down; what follows "
            "here is neither written nor sent",
            LogLevel.ERROR,
        )
        if server is not None:
            server.refusing = "this Central stepped down"
        # the monitors go to the new active now, not after their response timeout
        for cp_id in list(hub.connections):
            monitors.drop(cp_id, "Central stepped down")

    def close(self) -> None:
        if self.leadership is not None:
            self.leadership.close()
