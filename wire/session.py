"""The framed-TCP session rules (PROTOCOL.md §1) both ends follow, without I/O.

:class:`FrameDecoder` turns bytes into frames and control bytes; :class:`FramedSession` says
what to answer to them and when to give up, as plain method calls that return the bytes to
write (or ``None``: end the session, the reason in ``problem``). Central's asyncio server
(``wire.tcp_server``) and the monitors' clients (``wire.tcp_exchange``, under the blocking
``wire.tcp_client`` and the asyncio ``wire.aio_client``) each hold one
per connection and do only the I/O around it, so the two sides cannot drift apart on
attempts, ACK/NACK or resends, and the rules are tested without sockets.

The rules:

- The handshake: the client's ``ENQ`` is answered ``ACK`` (or ``NACK`` when refused, then
  closed); anything else first is answered ``NACK`` and closed.
- A peer's valid frame is answered ``ACK``; a bad one (LRC, bytes outside a frame) ``NACK``.
  ``MAX_ATTEMPTS`` bad frames in a row end the session; an oversized frame ends it at once,
  without a NACK.
- Our frame waits for the peer's ``ACK``; each ``NACK`` asks for it again, up to
  ``MAX_ATTEMPTS`` sends in all, after which the session ends. Nothing is ever resent because
  an answer is slow: a missing ACK is a time-out (``overdue``), and the session ends.

Central's hot path (10,000 monitors, a heartbeat a second each) calls these once or twice per
frame: they only set attributes and return constants or the frame held, never allocate.
"""

from __future__ import annotations

from wire.errors import FrameTooLarge
from wire.framing import Control

#: sends of one frame in all (the first and two resends after NACKs); also how many bad
#: frames in a row end a session
MAX_ATTEMPTS = 3
#: bytes a blocking reader asks the socket for at once
READ_SIZE = 4096

ACK = bytes([Control.ACK])
NACK = bytes([Control.NACK])
ENQ = bytes([Control.ENQ])
EOT = bytes([Control.EOT])


class FramedSession:
    """The ACK/NACK bookkeeping of one connection, for either end.

    ``awaiting`` is the frame we sent whose ACK has not come (``b""``: none); ``attempts``
    how often it was sent; ``since`` when it was last sent (the caller's clock);
    ``bad_in_a_row`` the peer's bad frames since its last good one. After a method returned
    ``None``, ``problem`` says why the session must end.
    """

    __slots__ = ("attempts", "awaiting", "bad_in_a_row", "problem", "since")

    def __init__(self) -> None:
        self.awaiting = b""
        self.attempts = 0
        self.since = 0.0
        self.bad_in_a_row = 0
        self.problem = ""

    # --- the handshake -------------------------------------------------------------------

    def open_answer(self, code: int | None, *, refuse: bool = False) -> tuple[bytes, bool]:
        """Server: what to answer to the first thing a peer sent (``code``: the control
        byte, ``None`` for a frame or garbage), and whether the session is open."""
        if code == Control.ENQ and not refuse:
            return ACK, True
        self.problem = "refused" if code == Control.ENQ else "expected ENQ first"
        return NACK, False

    def open_result(self, code: int) -> bool | None:
        """Client: True once the server ACKed our ENQ; False for a refusal (``problem``
        says which); None for anything to ignore while waiting."""
        if code == Control.ACK:
            return True
        if code == Control.NACK:
            self.problem = "Central answered ENQ with NACK"
            return False
        if code == Control.EOT:
            self.problem = "Central ended the session during the handshake"
            return False
        return None

    # --- the peer's frames ---------------------------------------------------------------

    def good_frame(self) -> bytes:
        """The peer sent a valid frame: answer ``ACK`` (its bad-frame series ends)."""
        self.bad_in_a_row = 0
        return ACK

    def bad_frame(self, error: Exception) -> bytes | None:
        """The peer sent a bad frame: ``NACK``, or ``None`` when the session must end
        (an oversized frame, or ``MAX_ATTEMPTS`` bad frames in a row after this NACK)."""
        if isinstance(error, FrameTooLarge):
            self.problem = f"oversized frame: {error}"
            return None
        self.bad_in_a_row += 1
        if self.bad_in_a_row >= MAX_ATTEMPTS:
            self.problem = f"{self.bad_in_a_row} bad frames in a row: {error}"
        return NACK

    @property
    def too_many_bad(self) -> bool:
        """After ``bad_frame``'s NACK went out: the session ends now."""
        return self.bad_in_a_row >= MAX_ATTEMPTS

    # --- our frame, waiting for the peer's ACK -------------------------------------------

    def sent(self, frame: bytes, now: float) -> None:
        """Our ``frame`` left (its first send): wait for the peer's ACK."""
        self.awaiting = frame
        self.attempts = 1
        self.since = now

    def acked(self) -> None:
        """The peer ACKed our frame (or showed it got it, e.g. by moving on)."""
        self.awaiting = b""

    def nacked(self, now: float) -> bytes | None:
        """The peer NACKed our frame: the frame to send again, or ``None`` when it was sent
        ``MAX_ATTEMPTS`` times already."""
        if self.attempts >= MAX_ATTEMPTS:
            self.problem = f"NACKed {self.attempts} times"
            return None
        self.attempts += 1
        self.since = now
        return self.awaiting

    def overdue(self, now: float, timeout: float) -> bool:
        """Our frame has waited longer than ``timeout`` for its ACK."""
        return bool(self.awaiting) and now - self.since > timeout
