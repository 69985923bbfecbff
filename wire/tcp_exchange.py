"""The monitor's side of one framed-TCP exchange (PROTOCOL.md §1), without I/O.

The blocking client (``wire.tcp_client``) and the asyncio one (``wire.aio_client``) differ
only in how they wait for bytes; what a request's way through ACK/NACK and its response is,
is here, once, on top of ``wire.session.FramedSession`` (whose counting and answers Central's
server uses too) —

- the request frame is sent, and sent again only after a NACK (``MAX_ATTEMPTS`` in all);
  each send starts a new deadline;
- a response frame (even one that arrives before the ACK: Central evidently got the request)
  is ACKed and is the answer; a bad one is NACKed, ``MAX_ATTEMPTS`` times at the most; an
  oversized one ends the session;
- EOT ends the session; stray control bytes are ignored.

The clients feed events from ``wire.framing.FrameDecoder`` and do what each ``Step`` says.
Errors are the ``SessionError`` family, after which a client closes its connection.
"""

from __future__ import annotations

import logging
import ssl
from collections import deque
from dataclasses import dataclass

from wire.errors import (
    ConnectionLost,
    HandshakeRefused,
    ResponseTimeout,
    SessionError,
    TooManyAttempts,
    UntrustedCertificate,
)
from wire.framing import BadFrame, Control, ControlByte, Event, Frame, FrameDecoder
from wire.session import ACK, ENQ, EOT, MAX_ATTEMPTS, NACK, FramedSession
from wire.tls import describe_verify_error

__all__ = [
    "ACK",
    "CONNECT_TIMEOUT",
    "RESPONSE_TIMEOUT",
    "ClientBase",
    "ENQ",
    "EOT",
    "MAX_ATTEMPTS",
    "NACK",
    "RequestExchange",
    "Step",
    "handshake",
    "tls_failure",
]

log = logging.getLogger(__name__)

# The clients' default deadlines; ``wire.tcp_client``'s docstring says why these values.
CONNECT_TIMEOUT = 5.0
RESPONSE_TIMEOUT = 10.0


class ClientBase:
    """What the blocking and the asyncio client hold alike, without I/O (as httpx's
    ``BaseClient``): where Central is, the deadlines, TLS, and the decoder of the bytes read
    with the events it decoded that no wait has taken yet. The subclasses add the socket and
    the waiting."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        response_timeout: float = RESPONSE_TIMEOUT,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.ssl = ssl
        self.server_hostname = server_hostname or host
        self._decoder = FrameDecoder()
        self._events: deque[Event] = deque()

    def _new_stream(self) -> None:
        """Forget the bytes of the last connection: a new one starts at a frame's edge."""
        self._decoder = FrameDecoder()
        self._events.clear()

    def _received(self, chunk: bytes) -> None:
        """Decode bytes just read; no bytes at all: Central closed the connection."""
        if not chunk:
            raise ConnectionLost("Central closed the connection")
        self._events.extend(self._decoder.feed(chunk))

    def _late(self, what: str) -> ResponseTimeout:
        return ResponseTimeout(f"{what} did not come within {self.response_timeout:g} s")


def handshake(event: Event) -> bool:
    """One event while waiting for the answer to ENQ: True once ACKed (session open), False
    to keep waiting; ``HandshakeRefused`` for NACK, ``ConnectionLost`` for EOT."""
    if isinstance(event, ControlByte):
        session = FramedSession()
        opened = session.open_result(event.code)
        if opened:
            return True
        if opened is False:
            if event.code == Control.NACK:
                raise HandshakeRefused(session.problem)
            raise ConnectionLost(session.problem)
    log.debug("ignoring %r while waiting for the handshake", event)
    return False


def tls_failure(exc: ssl.SSLError, where: str) -> SessionError:
    """What a failed TLS handshake with Central means to the user, for both clients."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return UntrustedCertificate(
            f"Central's certificate is not trusted: {describe_verify_error(exc)}"
        )
    return ConnectionLost(
        f"TLS handshake with Central at {where} failed: {exc.reason or exc} "
        "(is Central running without TLS?)"
    )


@dataclass(frozen=True)
class Step:
    """What to do after one event: write ``send`` (if any); ``resent`` means the request
    frame went again and its deadline starts over; ``response`` is the DATA of the answer,
    to be parsed once ``send`` (its ACK) is written; ``error`` ends the session after
    ``send`` (the third NACK of a bad response)."""

    send: bytes = b""
    resent: bool = False
    response: bytes | None = None
    error: SessionError | None = None  # raise it once ``send`` is written


class RequestExchange:
    """One request's way through ACK/NACK to its response; the counting is the
    session's (``wire.session.FramedSession``, the rules Central's server follows too)."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.session = FramedSession()
        self.session.sent(frame, 0.0)  # the caller sends ``frame`` once before the first event

    @property
    def acked(self) -> bool:
        return not self.session.awaiting

    @property
    def attempts(self) -> int:
        return self.session.attempts

    @property
    def waiting_for(self) -> str:
        return "the response" if self.acked else "the ACK of the request"

    def feed(self, event: Event) -> Step:
        session = self.session
        if isinstance(event, Frame):
            session.acked()  # a response before the ACK: Central evidently got the request
            return Step(send=session.good_frame(), response=event.data)
        if isinstance(event, BadFrame):
            if not self.acked:
                log.debug("ignoring %r while waiting for ACK", event)
                return Step()
            answer = session.bad_frame(event.error)
            if answer is None:
                raise ConnectionLost(f"Central sent an {session.problem}")
            if session.too_many_bad:
                return Step(send=answer, error=TooManyAttempts(f"response was {session.problem}"))
            return Step(send=answer)
        if event.code == Control.EOT:
            raise ConnectionLost("Central ended the session")
        if not self.acked and event.code == Control.ACK:
            session.acked()
        elif not self.acked and event.code == Control.NACK:
            log.debug("request NACKed (attempt %d)", session.attempts)
            again = session.nacked(0.0)
            if again is None:
                raise TooManyAttempts(f"request {session.problem}")
            return Step(send=again, resent=True)
        return Step()  # a stray ACK/NACK/ENQ
