"""Event-loop helpers for the servers: which loop to run, and an accept loop that survives
running out of file descriptors.

``new_event_loop()`` prefers uvloop: its transports, timers and polling are written in C on
libuv, and for the many-small-messages load of Central (10,000 monitors, one heartbeat a
second each) it spends a fraction of the CPU asyncio's pure-Python selector loop does per
``data_received``/``write``. uvloop is a dependency on POSIX (setup.cfg); where it is missing
(Windows) asyncio's loop is used and everything still works, only slower.

``Listener`` replaces ``loop.create_server``'s accept path. When ``accept()`` fails with
EMFILE/ENFILE, asyncio logs "socket.accept() out of system resource" at ERROR and retries a
second later, for ever, while the peers wait unanswered in the backlog; uvloop (libuv)
silently accepts and drops them, and closes the listening socket for good if its reserve
descriptor is gone. ``Listener`` instead keeps one spare descriptor: out of descriptors, it
frees the spare, accepts each waiting peer, sends it the refusal bytes (NACK) and closes it,
takes the spare back, pauses accepting briefly, and logs at most one line per
``log_every`` seconds with how many peers it refused meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# accept() errors meaning "no descriptor or buffer for a new socket right now".
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_BATCH = 256
PAUSE_AFTER_EXHAUSTION = 0.5
LOG_EVERY = 5.0

Accepted = list[tuple[socket.socket, Any]]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is importable, else asyncio's default loop (see module doc)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def bind(
    loop: asyncio.AbstractEventLoop, host: str | None, port: int, backlog: int
) -> list[socket.socket]:
    """Non-blocking listening sockets for every address of ``host`` (all interfaces for
    ``""``/None), as ``loop.create_server`` would make them; with port 0 they share the
    port the first one got. A bind error keeps its errno (EADDRINUSE, EACCES)."""
    infos = await loop.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"error while attempting to bind on {address!r}: {exc.strerror}"
                ) from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(f"no address to listen on for {host!r}")
    return sockets


def _open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


class Listener:
    """Accepts on non-blocking listening sockets through ``loop.add_reader``.

    ``on_accept`` receives every batch of accepted (non-blocking) sockets with their
    addresses, on the loop thread; it owns them from then on.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        on_accept: Callable[[Accepted], None],
        *,
        refusal: bytes = b"",
        pause: float = PAUSE_AFTER_EXHAUSTION,
        log_every: float = LOG_EVERY,
    ) -> None:
        self._loop = loop
        self.sockets = sockets
        self._on_accept = on_accept
        self._refusal = refusal
        self._pause = pause
        self._log_every = log_every
        self._spare = _open_spare()
        self._reading = False
        self._closed = False
        self._resume: asyncio.TimerHandle | None = None
        self._last_log = -float("inf")
        self._refused_since_log = 0
        self._errors_since_log = 0
        self.refused_total = 0

    def start(self) -> None:
        if self._closed or self._reading:
            return
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            for sock in self.sockets:
                self._loop.remove_reader(sock.fileno())
            self._reading = False

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections are not touched)."""
        self._closed = True
        self._stop_reading()
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        for sock in self.sockets:
            sock.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None

    def _on_readable(self, listening: socket.socket) -> None:
        accepted: Accepted = []
        try:
            for _ in range(ACCEPT_BATCH):
                try:
                    sock, addr = listening.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionAbortedError:
                    continue  # the peer gave up while in the backlog
                except OSError as exc:
                    if exc.errno in OUT_OF_RESOURCES:
                        self._exhausted(listening, exc)
                    else:
                        self._report(exc, 0)
                    break
                sock.setblocking(False)
                accepted.append((sock, addr))
        finally:
            if accepted:
                self._on_accept(accepted)

    def _exhausted(self, listening: socket.socket, exc: OSError) -> None:
        """Refuse the waiting peers using the spare descriptor, then pause accepting."""
        refused = 0
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
            try:
                while refused < ACCEPT_BATCH:
                    try:
                        sock, _addr = listening.accept()
                    except OSError:
                        break  # EAGAIN (backlog drained) or still exhausted
                    with sock:
                        sock.setblocking(False)
                        if self._refusal:
                            with contextlib.suppress(OSError):
                                sock.send(self._refusal)
                    refused += 1
            finally:
                self._spare = _open_spare()
        self.refused_total += refused
        self._report(exc, refused)
        if not self._closed:
            self._stop_reading()
            self._resume = self._loop.call_later(self._pause, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._resume = None
        self.start()

    def _report(self, exc: OSError, refused: int) -> None:
        """Log accept() failures at most once per ``log_every`` seconds, with counts."""
        self._errors_since_log += 1
        self._refused_since_log += refused
        now = time.monotonic()
        if now - self._last_log < self._log_every:
            return
        log.warning(
            "accept() failed: %s; %d failure(s), %d peer(s) refused since the last report "
            "(logged at most every %.0f s)",
            exc.strerror or exc,
            self._errors_since_log,
            self._refused_since_log,
            self._log_every,
        )
        self._last_log = now
        self._errors_since_log = 0
        self._refused_since_log = 0
