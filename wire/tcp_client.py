"""The monitor's side of the framed-TCP session (PROTOCOL.md §1), blocking.

The monitor runs it in its own thread. Every wait has a deadline, and every socket error is
translated into the ``SessionError`` family. After any ``SessionError`` the client has
closed its socket (``connected`` is False) because the session state is unknown (a late
response could otherwise be taken for the answer to the next request); call ``connect()``
again. A response frame whose LRC is fine but whose text is not a valid response is ACKed
(the framing was right, resending would not help) and raised as a ``MessageError``; the
session stays usable.

A request frame is sent once, and again only after Central NACKed it (at most 3 attempts in
all). It is never resent because an answer is slow: a request whose ACK and response have
not both arrived within ``response_timeout`` of sending it raises ``ResponseTimeout`` and the
session is closed; whatever is retried is retried by the caller on a new connection.

Timeouts (defaults, chosen for a Central under load, e.g. 10,000 monitors re-authenticating
after it restarted):

- ``connect_timeout`` (``CONNECT_TIMEOUT`` = 5 s): the TCP connect. A listen backlog that
  overflowed drops SYNs and the kernel resends them after 1 s and 3 s; 5 s lets both go.
- ``response_timeout`` (``RESPONSE_TIMEOUT`` = 10 s): from sending a frame (or ENQ) to
  having its ACK and response. ``wire.tcp_server`` answers every request within its
  handler deadline (5 s by default; ERROR on overrun), so a longer wait costs nothing while
  Central is alive, and giving up sooner would only abandon work Central is already doing
  and add a reconnection and an AUTH to its load. It only delays noticing a Central that
  hangs with the connection open, which a dead process (the socket is reset) never does.

TLS (docs/security.md, layer 4): with ``ssl`` (``wire.tls.client_context``) the client does
the TLS handshake within ``connect_timeout`` before ENQ, verifying Central's certificate
against the CA and ``server_hostname`` (default: ``host``). A certificate that fails raises
``UntrustedCertificate`` and nothing at all is sent. The session of the last connection
(``tls_session``) is offered again on the next ``connect()``, so a monitor reconnecting to
the same Central process resumes instead of paying a full handshake (``tls_resumed``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from wire.errors import (
    CentralMoved,
    ConnectionLost,
    ResponseTimeout,
    SessionError,
)
from wire.framing import Event, encode_frame
from wire.session import ENQ, EOT, READ_SIZE
from wire.tcp_exchange import (
    CONNECT_TIMEOUT,
    RESPONSE_TIMEOUT,
    ClientBase,
    RequestExchange,
    handshake,
    tls_failure,
)
from wire.tcp_messages import RESPONSES, Request, Response

log = logging.getLogger(__name__)

__all__ = ["CONNECT_TIMEOUT", "RESPONSE_TIMEOUT", "SILENCE_STEP", "CentralClient"]

SILENCE_STEP = 1.0  # s between two calls of a request's on_silence while its answer is late


class CentralClient(ClientBase):
    """One framed-TCP session with Central. Thread-safe: requests are serialised."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls_session: ssl.SSLSession | None = None,
        **options: Any,
    ) -> None:
        """``options``: ``ClientBase``'s (``connect_timeout``, ``response_timeout``, ``ssl``,
        ``server_hostname``)."""
        super().__init__(host, port, **options)
        self.tls_session = tls_session  # offered on the next connect(); updated by each
        self.tls_resumed = False  # whether the last handshake resumed ``tls_session``
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        """Open TCP and do the ENQ -> ACK handshake (replacing any previous session)."""
        with self._lock:
            self.close()
            try:
                sock = socket.create_connection(
                    (self.host, self.port), timeout=self.connect_timeout
                )
            except OSError as exc:  # socket.timeout is an OSError too
                raise ConnectionLost(
                    f"cannot connect to Central at {self.host}:{self.port}: {exc}"
                ) from exc
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl is not None:
                sock = self._handshake(sock)
            self._sock = sock
            self._new_stream()
            try:
                self._send(ENQ)
                deadline = time.monotonic() + self.response_timeout
                while not handshake(self._next_event(deadline, "the answer to ENQ")):
                    pass
                self._keep_tls_session()
            except SessionError:
                self._drop()
                raise

    def request(
        self, message: Request, *, on_silence: Callable[[float], bool] | None = None
    ) -> Response:
        """Send one request and return Central's response.

        ``on_silence(seconds)`` is called about once a second while the answer is late;
        when it returns True the exchange is abandoned with ``CentralMoved`` (a monitor of a
        pair found that the other Central took over from this silent one).

        The frame is sent once (resent only after a NACK); ``response_timeout`` counts from
        the last send to the response, the ACK included. Raises ``TooManyAttempts`` (three
        NACKs), ``ResponseTimeout``, ``ConnectionLost`` (all of which close the client), or a
        ``MessageError`` for a response that does not parse (the client stays connected). A message that cannot be encoded raises
        ``BadField``/``FrameTooLarge`` before anything is sent.
        """
        exchange = RequestExchange(encode_frame(message.to_bytes()))
        with self._lock:
            if self._sock is None:
                raise ConnectionLost("not connected")
            try:
                self._send(exchange.frame)
                deadline = time.monotonic() + self.response_timeout
                while True:
                    event = self._next_event(deadline, exchange.waiting_for, on_silence)
                    step = exchange.feed(event)
                    if step.send:
                        self._send(step.send)
                    if step.error is not None:
                        raise step.error
                    if step.resent:
                        deadline = time.monotonic() + self.response_timeout
                    if step.response is not None:
                        # A MessageError from here leaves the session usable: it was ACKed.
                        return RESPONSES.parse(step.response)  # type: ignore[return-value]
            except SessionError:
                self._drop()
                raise

    def close(self) -> None:
        """Send EOT and close; never raises."""
        with self._lock:
            sock = self._sock
            if sock is None:
                return
            try:
                sock.settimeout(0.5)
                sock.sendall(EOT)
            except OSError:
                pass
            finally:
                self._drop()

    def __enter__(self) -> CentralClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _handshake(self, sock: socket.socket) -> ssl.SSLSocket:
        """TLS over the connected ``sock``; closes it on failure."""
        assert self.ssl is not None
        where = f"{self.host}:{self.port}"
        try:
            sock.settimeout(self.connect_timeout)
            session = self.tls_session
            tls = self.ssl.wrap_socket(sock, server_hostname=self.server_hostname, session=session)
        except ssl.SSLError as exc:
            sock.close()
            raise tls_failure(exc, where) from exc
        except OSError as exc:  # timeout, reset
            sock.close()
            raise ConnectionLost(f"TLS handshake with Central at {where} failed: {exc}") from exc
        self.tls_resumed = bool(tls.session_reused)
        return tls

    def _keep_tls_session(self) -> None:
        """TLS 1.3 tickets arrive after the handshake: read the session once data came."""
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                session = sock.session
                if session is not None:
                    self.tls_session = session

    def _next_event(
        self, deadline: float, what: str, on_silence: Callable[[float], bool] | None = None
    ) -> Event:
        sock = self._sock
        if sock is None:
            raise ConnectionLost("not connected")
        began = deadline - self.response_timeout
        while not self._events:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                raise self._late(what)
            wait = remaining if on_silence is None else min(remaining, SILENCE_STEP)
            try:
                sock.settimeout(wait)
                chunk = sock.recv(READ_SIZE)
            except TimeoutError as exc:  # socket.timeout
                if wait < remaining:
                    assert on_silence is not None
                    if on_silence(time.monotonic() - began):
                        raise CentralMoved(
                            f"Central was silent for {time.monotonic() - began:.1f} s and the "
                            "other Central of the pair took over"
                        ) from None
                    continue
                raise self._late(what) from exc
            except OSError as exc:
                raise ConnectionLost(f"connection to Central failed: {exc}") from exc
            self._received(chunk)
        return self._events.popleft()

    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionLost("not connected")
        try:
            sock.settimeout(self.response_timeout)
            sock.sendall(data)
        except TimeoutError as exc:
            raise ResponseTimeout("Central does not read (send timed out)") from exc
        except OSError as exc:
            raise ConnectionLost(f"connection to Central failed: {exc}") from exc

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self._new_stream()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
