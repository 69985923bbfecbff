"""A monitor for the engine's tests: real ZeroMQ HEALTH (and KEY) to a real EngineService."""

from __future__ import annotations

import threading

from wire.curve import CurveClient
from wire.errors import WireError
from wire.health import LazyPirateClient
from wire.health_messages import CentralLink, Health, HealthKo, HealthOk, Key
from wire.tcp_messages import AdminState


class FakeMonitor:
    """HEALTH every ``every`` s like EV_CP_M, plus KEY once ``give_key`` was called, over
    CURVE when ``curve`` is given; the replies are kept. One thread does it all: the REQ
    socket belongs to it."""

    def __init__(
        self,
        port: int,
        cp_id: str = "CP-S1",
        *,
        every: float = 0.2,
        curve: CurveClient | None = None,
    ) -> None:
        self.cp_id = cp_id
        self.every = every
        self.replies: list[HealthOk | HealthKo] = []
        self.key_replies: list[HealthOk | HealthKo] = []
        self._key: str | None = None
        self._stop = threading.Event()
        options = {} if curve is None else {"curve": curve}
        self._client = LazyPirateClient(f"tcp://127.0.0.1:{port}", **options)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def give_key(self, key: str) -> None:
        self._key = key

    def _run(self) -> None:
        health = Health(self.cp_id, 0.35, AdminState.ACTIVE, CentralLink.UP)
        while not self._stop.wait(self.every):
            try:
                self.replies.append(self._client.check(health))
                key, self._key = self._key, None
                if key is not None:
                    self.key_replies.append(self._client.check(Key(cp_id=self.cp_id, key=key)))
            except WireError:
                continue
        self._client.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)
