"""The adapter between ``wire.tcp_server.FramedServer`` and the monitor desk.

The server runs on the core's owner thread, so the desk is called directly: heartbeats,
AUTH, FAULT and RECOVERED are answered synchronously (the server's fast path, no task, no
thread hop); REGISTER comes back as an awaitable (its database write runs on the writer
thread) that the server runs as a task, so other monitors are served meanwhile.

Each HEARTBEAT's handling time goes into the hub's counts (a ``FastHistogram``: two clock
reads, a bisect and two additions, no lock; its count is the heartbeats' counter).
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Awaitable
from time import perf_counter

from central_app.monitors import MonitorDesk
from wire.tcp_messages import Heartbeat, Request, Response
from wire.tcp_server import Connection

log = logging.getLogger(__name__)


class MonitorHandler:
    def __init__(self, desk: MonitorDesk) -> None:
        self.desk = desk
        self._beats = desk.hub.counts.heartbeats

    def __call__(self, conn: Connection, request: Request) -> Response | Awaitable[Response]:
        if type(request) is not Heartbeat:
            return self.desk.handle(conn, request)
        started = perf_counter()
        answer = self.desk.handle(conn, request)
        took = perf_counter() - started
        beats = self._beats  # FastHistogram.observe, inlined: this runs 10,000 times a second
        beats.counts[bisect_left(beats.bounds, took)] += 1
        beats.sum += took
        return answer

    def on_close(self, conn: Connection) -> None:
        """Called by the server on the owner thread when a connection ended."""
        self.desk.connection_closed(conn)
