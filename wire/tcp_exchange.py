"""The monitor's side of one framed-TCP exchange (PROTOCOL.md §1), without I/O.

The blocking client (``wire.tcp_client``) and the asyncio one (``wire.aio_client``) differ
only in how they wait for bytes; the rules are here, once: what the answer to ENQ means, and
a request's way through ACK/NACK and its response —

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
from dataclasses import dataclass

from wire.errors import (
    ConnectionLost,
    FrameTooLarge,
    HandshakeRefused,
    SessionError,
    TooManyAttempts,
)
from wire.framing import BadFrame, Control, ControlByte, Event, Frame

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ACK = bytes([Control.ACK])
NACK = bytes([Control.NACK])
ENQ = bytes([Control.ENQ])
EOT = bytes([Control.EOT])


def handshake(event: Event) -> bool:
    """One event while waiting for the answer to ENQ: True once ACKed (session open), False
    to keep waiting; ``HandshakeRefused`` for NACK, ``ConnectionLost`` for EOT."""
    if isinstance(event, ControlByte):
        if event.code == Control.ACK:
            return True
        if event.code == Control.NACK:
            raise HandshakeRefused("Central answered ENQ with NACK")
        if event.code == Control.EOT:
            raise ConnectionLost("Central ended the session during the handshake")
    log.debug("ignoring %r while waiting for the handshake", event)
    return False


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
    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.attempts = 1  # the caller sends ``frame`` once before the first event
        self.acked = False
        self.bad = 0

    @property
    def waiting_for(self) -> str:
        return "the response" if self.acked else "the ACK of the request"

    def feed(self, event: Event) -> Step:
        if isinstance(event, Frame):
            return Step(send=ACK, response=event.data)
        if isinstance(event, BadFrame):
            if not self.acked:
                log.debug("ignoring %r while waiting for ACK", event)
                return Step()
            if isinstance(event.error, FrameTooLarge):
                raise ConnectionLost(f"Central sent an oversized frame: {event.error}")
            self.bad += 1
            if self.bad >= MAX_ATTEMPTS:
                failed = TooManyAttempts(f"response was bad {self.bad} times: {event.error}")
                return Step(send=NACK, error=failed)
            return Step(send=NACK)
        if event.code == Control.EOT:
            raise ConnectionLost("Central ended the session")
        if not self.acked and event.code == Control.ACK:
            self.acked = True
        elif not self.acked and event.code == Control.NACK:
            log.debug("request NACKed (attempt %d)", self.attempts)
            if self.attempts >= MAX_ATTEMPTS:
                raise TooManyAttempts(f"request NACKed {MAX_ATTEMPTS} times")
            self.attempts += 1
            return Step(send=self.frame, resent=True)
        return Step()  # a stray ACK/NACK/ENQ
