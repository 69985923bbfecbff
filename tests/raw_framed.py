"""Framed TCP by hand, for the tests of both ends: a client socket (``Raw``) and a
one-connection Central (``ScriptedCentral``) that send exactly the bytes a test wants and decode
what comes back (``wire.framing``) one event at a time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from wire.framing import Control, ControlByte, Frame, FrameDecoder
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


Script = Callable[[socket.socket, Callable[[], object]], None]


class ScriptedCentral:
    """One connection; ``script(conn, next_event)`` plays Central in a thread, after the
    ENQ → ACK handshake when ``handshake`` (without it, the script answers the ENQ itself).
    ``join`` raises what the script raised."""

    def __init__(self, script: Script, *, handshake: bool = False) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[object] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(script, handshake), daemon=True)
        self.thread.start()

    def _run(self, script: Script, handshake: bool) -> None:
        self.listener.settimeout(5)
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        decoder = FrameDecoder()
        pending: list[object] = []

        def next_event() -> object:
            while not pending:
                chunk = conn.recv(4096)
                if not chunk:
                    return None
                pending.extend(decoder.feed(chunk))
            event = pending.pop(0)
            self.received.append(event)
            return event

        try:
            if handshake:
                assert next_event() == ControlByte(Control.ENQ)
                conn.sendall(bytes([Control.ACK]))
            script(conn, next_event)
        except BaseException as exc:  # surfaced by join()
            self.error = exc
        finally:
            conn.close()
            self.listener.close()

    def frames(self) -> list[Frame]:
        return [e for e in self.received if isinstance(e, Frame)]

    def join(self) -> None:
        self.thread.join(10)
        if self.error is not None:
            raise self.error
