"""Keeps librdkafka's error callbacks from flooding a console while a broker is down.

librdkafka reports every failed reconnect (several a second); an operator needs to hear it
once, then again only if it is still going on a while later.
"""

from __future__ import annotations

import time


class RepeatFilter:
    """``allow(key)`` is True the first time, then at most once per ``every`` seconds."""

    def __init__(self, every: float = 30.0) -> None:
        self._every = every
        self._last: dict[object, float] = {}

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        self._last[key] = now
        return True
