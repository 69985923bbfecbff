"""The page's live data in the server: the board, and one queue per connected browser.

Everything here runs on the event loop's thread: the Kafka thread hands each ``cp_state``
over with ``loop.call_soon_threadsafe(hub.apply, event)``. A browser's stream reads its
queue; a browser too slow to keep up (its queue full) is dropped, and its ``EventSource``
reconnects and starts again from a fresh snapshot, so a slow phone never holds memory or
other browsers back.
"""

from __future__ import annotations

import asyncio
import logging

from web_app.board import Board, FeedStatus, sse_event
from wire.kafka.messages import CpState

__all__ = ["Hub"]

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # events waiting for one browser before it is dropped


class Hub:
    def __init__(self, board: Board | None = None, queue_limit: int = QUEUE_LIMIT) -> None:
        self.board = board or Board()
        self.status = FeedStatus()
        self._queue_limit = queue_limit
        # a browser's queue; ``None`` in it ends that browser's stream
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._closed = False

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A new browser's queue, primed with the status and every CP's current state."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self._queue_limit)
        queue.put_nowait(sse_event("status", self.status.to_json()))
        queue.put_nowait(sse_event("snapshot", self.board.snapshot()))
        if self._closed:
            queue.put_nowait(None)
        else:
            self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)

    def apply(self, event: CpState) -> None:
        change = self.board.apply(event)
        if change is not None:
            self._broadcast(sse_event("cp", change))

    def set_status(self, status: FeedStatus) -> None:
        if status != self.status:
            self.status = status
            self._broadcast(sse_event("status", status.to_json()))

    def close(self) -> None:
        """End every browser's stream (shutdown)."""
        self._closed = True
        for queue in list(self._queues):
            self._end(queue)
        self._queues.clear()

    def _broadcast(self, data: bytes) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                log.info("dropped a browser that fell %d events behind", self._queue_limit)
                self._queues.discard(queue)
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[bytes | None]) -> None:
        while True:  # make room for the end marker
            try:
                queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                queue.get_nowait()
