"""``Worker``: one named daemon thread running ``_run`` until ``close`` sets ``_stop``.

The programs' Kafka feeds (a standby Central's window, EV_Web's page) are such a thread:
``_run`` loops while ``not self._stop.is_set()`` and waits on ``self._stop`` between
attempts, so ``close`` ends it within one wait.
"""

from __future__ import annotations

import threading

__all__ = ["Worker"]


class Worker:
    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
