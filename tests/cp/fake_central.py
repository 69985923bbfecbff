"""A test Central built from wire's ``FramedServer``, run on an asyncio loop in a thread.

It registers and authenticates CPs (credentials survive ``stop()``/``start()``, like a real
Central's database), answers heartbeats with the admin state a test sets, and records every
request with its ``time.monotonic()`` and the connection it came on, so tests can measure
detection times and see which session carried what.

It follows the registration-claim rule (docs/cp.md): a REGISTER for an id that already has a
credential is REJECTED, unless that credential was never used by a successful AUTH and the
REGISTER carries the claim of the registration that issued it; then it gets a fresh
credential. With ``tokens`` set it is a secured Central's enrollment (docs/security.md): an
id without a credential registers only with the one-time token issued for it
(``issue_token``), and ``revoke`` refuses an id, AUTH and REGISTER, until a token issued
after the revocation comes (a claim retry needs none). Faults a test can inject: ``lose_response`` (handle a request, then drop the
connection without answering, as a Central killed at that moment) and ``delay_response``.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from central_app.store import revoked_text
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
    peer: str = ""  # the connection it came on (client address and port)


class FakeCentral:
    def __init__(self, price: float = 0.35, tls: ssl.SSLContext | None = None) -> None:
        self.price = price
        self.tls = tls  # a server context: TLS like a secure Central (monitors need the CA)
        self.credentials: dict[str, str] = {}
        self.claims: dict[str, str] = {}  # the claim of the REGISTER that issued the credential
        self.used: set[str] = set()  # ids whose credential a successful AUTH used
        self.admin: dict[str, AdminState] = {}
        # Enrollment (docs/security.md): None, an insecure Central (no token needed, only a
        # revoked id wants one); a dict, a secured one: the unused token issued per id.
        self.tokens: dict[str, str] | None = None
        self.revoked: set[str] = set()
        # CP keys a secure Central issues (docs/security.md): REGISTERED and AUTHORIZED carry
        # keys[cp_id] when set; none (an insecure Central) by default
        self.keys: dict[str, str] = {}
        # Called (on the event-loop thread) with each request as it arrives.
        self.inspect: Callable[[Request], None] | None = None
        self.lost: list[Seen] = []  # requests whose response was dropped
        self.delayed: list[Seen] = []  # requests whose response was delayed
        self._lose: dict[str, int] = {}
        self._delay: dict[str, list[float]] = {}
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
        self._server = FramedServer(self._handle, host="127.0.0.1", port=self.port, ssl=self.tls)
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

    def freeze(self, thawed: threading.Event) -> None:
        """Stop answering anything at all until ``thawed`` is set, its sockets left open: a
        Central stopped with SIGSTOP (its whole event loop blocks)."""
        self._loop.call_soon_threadsafe(thawed.wait)

    def refuse(self, why: str | None) -> None:
        """Answer every ENQ with NACK, as a standby Central of a pair does (``why``), or
        accept sessions again (None: this one took over)."""
        assert self._server is not None
        self._server.refusing = why

    def set_admin(self, cp_id: str, state: AdminState) -> None:
        self.admin[cp_id] = state

    def issue_token(self, cp_id: str) -> str:
        """The operator's ``evc-admin cp enroll``: a one-time token for ``cp_id``."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            if self.tokens is None:
                self.tokens = {}
            self.tokens[cp_id] = token
        return token

    def revoke(self, cp_id: str) -> None:
        """The operator's ``evc-admin cp revoke``: credential gone, tokens issued before it
        void, refused until re-admitted; its connections are closed (a restart of the
        listener, as the real Central closes the CP's connection)."""
        with self._lock:
            self.credentials.pop(cp_id, None)
            self.used.discard(cp_id)
            self.revoked.add(cp_id)
            if self.tokens is not None:
                self.tokens.pop(cp_id, None)
        self.stop()
        self.start()

    def lose_response(self, opcode: str, times: int = 1) -> None:
        """The next ``times`` requests ``opcode`` are handled, then the connection is dropped
        unanswered (the response is lost; the request's effect is not)."""
        with self._lock:
            self._lose[opcode] = self._lose.get(opcode, 0) + times

    def delay_response(self, opcode: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests ``opcode`` are handled at once and answered ``seconds``
        later (a loaded Central)."""
        with self._lock:
            self._delay.setdefault(opcode, []).extend([seconds] * times)

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
        seen = Seen(time.monotonic(), request, conn.peer)
        with self._lock:
            self.seen.append(seen)
            lose = self._lose.get(request.OPCODE, 0) > 0
            if lose:
                self._lose[request.OPCODE] -= 1
                self.lost.append(seen)
            delays = self._delay.get(request.OPCODE)
            delay = delays.pop(0) if delays else 0.0
            if delay:
                self.delayed.append(seen)
        if self.inspect is not None:
            self.inspect(request)
        response = self._answer(conn, request)
        if lose:
            # End the connection from outside its handler (which then never returns), so
            # FramedServer closes the socket without the response, as if Central died right
            # after handling the request.
            asyncio.get_running_loop().call_soon(conn.close)
            await asyncio.sleep(60)
        if delay:
            await asyncio.sleep(delay)
        return response

    def _answer(self, conn: Connection, request: Request) -> Response:
        if isinstance(request, Register):
            cp_id = request.cp_id
            retry = (
                cp_id not in self.used and request.claim and request.claim == self.claims.get(cp_id)
            )
            if self.credentials.get(cp_id) and not retry:
                return Rejected(cp_id=cp_id, reason="already registered")
            refused = None if retry else self._enrollment(cp_id, request.token)
            if refused is not None:
                return Rejected(cp_id=cp_id, reason=refused)
            credential = secrets.token_urlsafe(24)
            self.credentials[cp_id] = credential
            self.claims[cp_id] = request.claim
            return Registered(
                cp_id=cp_id, credential=credential, price=self.price, key=self.keys.get(cp_id, "")
            )
        if isinstance(request, Auth):
            if request.cp_id in self.revoked:
                return Rejected(cp_id=request.cp_id, reason=revoked_text(request.cp_id))
            if self.credentials.get(request.cp_id) != request.credential:
                return Rejected(cp_id=request.cp_id, reason="bad credential")
            self.used.add(request.cp_id)
            conn.cp_id = request.cp_id
            admin = self.admin.get(request.cp_id, AdminState.ACTIVE)
            return Authorized(
                cp_id=request.cp_id,
                price=self.price,
                admin_state=admin,
                key=self.keys.get(request.cp_id, ""),
            )
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

    def _enrollment(self, cp_id: str, token: str) -> str | None:
        """Why a REGISTER without a credential behind it is refused (Central's words), or
        None when it may register (its token is then used up)."""
        with self._lock:
            if self.tokens is None and cp_id not in self.revoked:
                return None
            issued = (self.tokens or {}).get(cp_id)
            if token and token == issued:
                del self.tokens[cp_id]  # type: ignore[union-attr]
                self.revoked.discard(cp_id)
                return None
        if cp_id in self.revoked:
            return revoked_text(cp_id)
        if not token:
            return (
                "enrollment token required: the operator issues one with "
                f"`evc-admin cp enroll {cp_id}` (pass it with --enroll-token)"
            )
        return f"enrollment token not valid for {cp_id} (unknown, used or expired)"
