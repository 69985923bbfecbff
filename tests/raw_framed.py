"""A hand-driven framed-TCP socket for the server's tests: exactly the bytes a test wants go
out, and what comes back is decoded (``wire.framing``) one event at a time."""

from __future__ import annotations

import socket
import time

from wire.framing import Control, ControlByte, FrameDecoder
from wire.session import ENQ


class Raw:
    """A hand-driven socket for sending exactly the bytes a test wants."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.events: list = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self, timeout: float = 3.0):  # type: ignore[no-untyped-def]
        """The next event (a frame, a control byte), or None once the server closed."""
        deadline = time.monotonic() + timeout
        while not self.events:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            if not chunk:
                return None  # closed by the server
            self.events.extend(self.decoder.feed(chunk))
        return self.events.pop(0)

    def handshake(self) -> None:
        self.send(ENQ)
        assert self.next() == ControlByte(Control.ACK)

    def closed_after(self, timeout: float) -> float | None:
        """Seconds until the server closed the socket (None if it stayed open)."""
        started = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(4096):
                pass
        except TimeoutError:
            return None
        except ConnectionResetError:
            pass
        return time.monotonic() - started

    def wait_closed(self, timeout: float) -> bytes:
        """Read until the server closes; returns what arrived meanwhile."""
        self.sock.settimeout(timeout)
        received = b""
        while True:
            try:
                chunk = self.sock.recv(4096)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk

    def close(self) -> None:
        self.sock.close()
