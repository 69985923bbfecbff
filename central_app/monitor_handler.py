"""The adapter between ``wire.tcp_server.FramedServer`` and the monitor desk.

The server runs on the core's owner thread, so the desk is called directly: heartbeats,
AUTH, FAULT and RECOVERED are answered synchronously (the server's fast path, no task, no
thread hop); REGISTER comes back as an awaitable (its database write runs on the writer
thread) that the server runs as a task, so other monitors are served meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from central_app.monitors import MonitorDesk
from wire.tcp_messages import Request, Response
from wire.tcp_server import Connection

log = logging.getLogger(__name__)


class MonitorHandler:
    def __init__(self, desk: MonitorDesk) -> None:
        self.desk = desk

    def __call__(self, conn: Connection, request: Request) -> Response | Awaitable[Response]:
        return self.desk.handle(conn, request)

    def on_close(self, conn: Connection) -> None:
        """Called by the server on the owner thread when a connection ended."""
        self.desk.connection_closed(conn)
