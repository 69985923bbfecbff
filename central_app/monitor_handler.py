"""The asyncio adapter between ``wire.tcp_server.FramedServer`` and the monitor desk.

The desk is synchronous (it takes the hub's lock, hashes credentials, writes the database),
so every request is handed to a small thread pool and the event loop never blocks: one slow
AUTH or a busy database never delays the bytes of other monitors.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from central_app.monitors import MonitorDesk
from wire.tcp_messages import Auth, Register, Request, Response
from wire.tcp_server import Connection

log = logging.getLogger(__name__)


class MonitorHandler:
    """Heartbeats, FAULT and RECOVERED (in-memory, microseconds) run on ``executor``;
    REGISTER and AUTH (scrypt, database writes) on ``slow_executor``, so a burst of
    registrations after a restart never queues ahead of the heartbeats of connected CPs."""

    def __init__(
        self,
        desk: MonitorDesk,
        executor: ThreadPoolExecutor,
        slow_executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.desk = desk
        self.executor = executor
        self.slow_executor = slow_executor or executor

    async def __call__(self, conn: Connection, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        pool = self.slow_executor if isinstance(request, Register | Auth) else self.executor
        return await loop.run_in_executor(pool, self.desk.handle, conn, request)

    def on_close(self, conn: Connection) -> None:
        """Called by the server on the loop thread; the desk's work goes to the pool."""
        if conn.cp_id is None:
            return
        try:
            self.executor.submit(self.desk.connection_closed, conn)
        except RuntimeError:  # the pool is shut down: Central is stopping
            log.debug("connection of %s closed during shutdown", conn.cp_id)
