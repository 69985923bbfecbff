"""A test Central built from wire's ``FramedServer``, run on an asyncio loop in a thread.

It registers and authenticates CPs (credentials survive ``stop()``/``start()``, like a real
Central's database), answers heartbeats with the admin state a test sets, and records every
request with its ``time.monotonic()`` so tests can measure detection times.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass

from wire.tcp_messages import (
    AdminState,
    Alive,
    Auth,
    Authorized,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Recovered,
    Register,
    Registered,
    Rejected,
    Request,
    Response,
)
from wire.tcp_server import Connection, FramedServer


@dataclass(frozen=True)
class Seen:
    at: float
    request: Request


class FakeCentral:
    def __init__(self, price: float = 0.35) -> None:
        self.price = price
        self.credentials: dict[str, str] = {}
        self.admin: dict[str, AdminState] = {}
        self.seen: list[Seen] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: FramedServer | None = None
        self._lock = threading.Lock()

    # --- control from the test thread -------------------------------------------------------

    def start(self) -> int:
        """Listen (on the same port as before after a stop); returns the port."""
        self._server = FramedServer(self._handle, host="127.0.0.1", port=self.port)
        self.port = asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result(5)
        return self.port

    def stop(self) -> None:
        """Close the listener and every connection, as if Central died."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
            self._server = None

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def set_admin(self, cp_id: str, state: AdminState) -> None:
        self.admin[cp_id] = state

    def requests(self, kind: type, cp_id: str | None = None, since: float = 0.0) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if isinstance(s.request, kind)
                and s.at >= since
                and (cp_id is None or s.request.cp_id == cp_id)
            ]

    # --- the handler (event-loop thread) -----------------------------------------------------

    async def _handle(self, conn: Connection, request: Request) -> Response:
        with self._lock:
            self.seen.append(Seen(time.monotonic(), request))
        if isinstance(request, Register):
            if self.credentials.get(request.cp_id):
                return Rejected(cp_id=request.cp_id, reason="already registered")
            credential = secrets.token_urlsafe(24)
            self.credentials[request.cp_id] = credential
            return Registered(cp_id=request.cp_id, credential=credential, price=self.price)
        if isinstance(request, Auth):
            if self.credentials.get(request.cp_id) != request.credential:
                return Rejected(cp_id=request.cp_id, reason="bad credential")
            conn.cp_id = request.cp_id
            admin = self.admin.get(request.cp_id, AdminState.ACTIVE)
            return Authorized(cp_id=request.cp_id, price=self.price, admin_state=admin)
        if conn.cp_id is None or conn.cp_id != request.cp_id:
            return Error(reason="not authenticated")
        if isinstance(request, Heartbeat):
            return Alive(
                cp_id=request.cp_id, admin_state=self.admin.get(request.cp_id, AdminState.ACTIVE)
            )
        if isinstance(request, Fault):
            return Noted(cp_id=request.cp_id, what="FAULT")
        if isinstance(request, Recovered):
            return Noted(cp_id=request.cp_id, what="RECOVERED")
        return Error(reason="unexpected request")
