"""Central's side of the framed-TCP session (PROTOCOL.md §1), on asyncio.

One task per accepted socket runs the session; the request handler only sees parsed
``Request`` objects and returns a ``Response``. Everything the protocol says about bytes is
done here, so the handler never deals with ACK/NACK, timeouts or bad input:

* Handshake: the first thing a peer sends must be ``ENQ``; it is answered ``ACK``. Anything
  else first (a frame, garbage, ACK/NACK/EOT) is answered ``NACK`` and the connection is
  closed, as for a refused ENQ. (A later ``ENQ`` inside an open session is answered ``ACK``
  again and changes nothing.) With ``max_connections`` set, an ENQ beyond it is refused.
* Each valid frame is answered ``ACK`` and parsed; an unknown opcode or bad field becomes an
  ``ERROR#reason`` response without calling the handler. The response frame is then
  resent on ``NACK`` (at most 3 attempts in all, then the connection is closed); the peer's
  ``ACK`` has to arrive within ``response_timeout``. A new request frame arriving instead of
  the ``ACK`` is taken as an implicit ``ACK`` and processed.
* A frame with a bad LRC, or bytes outside a frame, are answered ``NACK``; three bad
  frames in a row (no valid frame between them) close the connection.
* An oversized frame closes the connection at once (no NACK).
* ``stall_timeout`` counts from the first byte of a frame: a frame that is not complete that
  long after its STX closes the connection, so a peer trickling one byte every few seconds
  cannot hold a connection open. ``idle_timeout`` counts from the last byte received.
* ``EOT`` closes the connection.

Every await has a deadline, and writes go through ``drain()`` with ``write_timeout``, so a
peer that does not read is dropped instead of delaying anybody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from wire.errors import FrameTooLarge, MessageError, WireError
from wire.fields import Message
from wire.framing import BadFrame, Control, ControlByte, Event, Frame, FrameDecoder, encode_frame
from wire.tcp_messages import REQUESTS, Error, Request, Response

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
READ_SIZE = 4096
BACKLOG = 4096
INTERNAL_ERROR = "internal error"

_ACK = bytes([Control.ACK])
_NACK = bytes([Control.NACK])


class _SessionEnd(Exception):
    """Internal: the session is over (reason in the message); never leaves this module."""


def error_reason(text: str, limit: int = 200) -> str:
    """Make ``text`` safe as the one field of ``ERROR#reason`` (no '#', no control bytes)."""
    cleaned = "".join(ch if ch >= " " and ch != "#" else " " for ch in text).strip()
    return cleaned[:limit] or "error"


class Connection:
    """One accepted socket; handed to the request handler with every request."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        self.peer = peer
        self.cp_id: str | None = None
        self.last_valid_frame = time.monotonic()
        self.opened_at = time.monotonic()
        self.session_open = False
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder()
        self._events: deque[Event] = deque()
        self._last_byte = time.monotonic()
        self._frame_started: float | None = None
        self._close_requested = False
        self._ended = False
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Connection {self.peer} cp_id={self.cp_id!r} closed={self.closed}>"

    def close(self) -> None:
        """Ask the server to end this connection (e.g. replaced by a newer AUTH).

        From the connection's own handler the current response is still sent first; from
        anywhere else the connection task is cancelled at once. Safe to call repeatedly.
        """
        self._close_requested = True
        task = self._task
        if task is None or task.done():
            return
        try:
            current = asyncio.current_task()
        except RuntimeError:  # called from outside the event loop
            current = None
        if task is not current:
            task.cancel()

    @property
    def closed(self) -> bool:
        return self._close_requested or self._ended


RequestHandler = Callable[[Connection, Request], Awaitable[Response]]


class FramedServer:
    """Accepts monitor connections and runs one session task per connection."""

    def __init__(
        self,
        handler: RequestHandler,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        stall_timeout: float = 5.0,
        idle_timeout: float = 10.0,
        response_timeout: float = 5.0,
        on_close: Callable[[Connection], None] | None = None,
        handler_timeout: float | None = None,
        write_timeout: float = 5.0,
        max_connections: int | None = None,
        backlog: int = BACKLOG,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self.stall_timeout = stall_timeout
        self.idle_timeout = idle_timeout
        self.response_timeout = response_timeout
        self.handler_timeout = handler_timeout if handler_timeout is not None else response_timeout
        self.write_timeout = write_timeout
        self.max_connections = max_connections
        self._backlog = backlog
        self._on_close = on_close
        self._server: asyncio.base_events.Server | None = None
        self._connections: dict[Connection, asyncio.Task[None]] = {}
        self._closing = False
        self.port: int | None = None

    @property
    def connections(self) -> list[Connection]:
        return [conn for conn in self._connections if not conn.closed]

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._accept, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("framed TCP server listening on %s:%s", self._host, self.port)
        return self.port

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening and end every connection (3.11's Server.close() leaves them open)."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FramedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- per connection ---------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        conn = Connection(reader, writer, peer)
        if self._closing:
            writer.close()
            return
        task = asyncio.create_task(self._run(conn), name=f"evc-conn-{peer}")
        conn._task = task
        self._connections[conn] = task  # the reference that keeps the task alive

    async def _run(self, conn: Connection) -> None:
        reason = "closed"
        try:
            await self._session(conn)
        except _SessionEnd as end:
            reason = str(end)
        except asyncio.CancelledError:
            reason = "cancelled"
        except (ConnectionError, OSError) as exc:
            reason = f"socket error: {exc}"
        except Exception:  # a bug here must not take the server down
            log.exception("session with %s failed", conn.peer)
            reason = "internal error"
        finally:
            conn._ended = True
            self._connections.pop(conn, None)
            await self._shutdown_socket(conn)
            log.debug("connection %s (%s) ended: %s", conn.peer, conn.cp_id, reason)
            if self._on_close is not None:
                try:
                    self._on_close(conn)
                except Exception:
                    log.exception("on_close callback failed for %s", conn.peer)

    async def _shutdown_socket(self, conn: Connection) -> None:
        writer = conn._writer
        writer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    async def _session(self, conn: Connection) -> None:
        await self._handshake(conn)
        bad_in_a_row = 0
        while not conn._close_requested:
            event = await self._next_event(conn)
            if isinstance(event, Frame):
                bad_in_a_row = 0
                conn.last_valid_frame = time.monotonic()
                await self._send(conn, _ACK)
                response = await self._respond(conn, event.data)
                await self._deliver(conn, response)
            elif isinstance(event, BadFrame):
                if isinstance(event.error, FrameTooLarge):
                    raise _SessionEnd(f"oversized frame: {event.error}")
                bad_in_a_row += 1
                await self._send(conn, _NACK)
                if bad_in_a_row >= MAX_ATTEMPTS:
                    raise _SessionEnd(f"{bad_in_a_row} bad frames in a row: {event.error}")
            elif event.code == Control.EOT:
                raise _SessionEnd("EOT")
            elif event.code == Control.ENQ:
                await self._send(conn, _ACK)
            # a stray ACK/NACK outside an exchange is ignored

    async def _handshake(self, conn: Connection) -> None:
        event = await self._next_event(conn)
        if isinstance(event, ControlByte) and event.code == Control.ENQ:
            if self.max_connections is not None and self._open_sessions() >= self.max_connections:
                await self._send(conn, _NACK)
                raise _SessionEnd("refused: too many connections")
            await self._send(conn, _ACK)
            conn.session_open = True
            return
        await self._send(conn, _NACK)
        raise _SessionEnd(f"expected ENQ first, got {event!r}")

    def _open_sessions(self) -> int:
        return sum(1 for conn in self._connections if conn.session_open and not conn.closed)

    async def _respond(self, conn: Connection, data: bytes) -> bytes:
        """Parse and handle one request; always returns the bytes of a response frame."""
        try:
            request = REQUESTS.parse(data)
        except MessageError as exc:
            return encode_frame(Error(error_reason(str(exc))).to_bytes())
        try:
            async with asyncio.timeout(self.handler_timeout):
                response = await self._handler(conn, request)  # type: ignore[arg-type]
            if not isinstance(response, Message):
                raise TypeError(f"handler returned {type(response).__name__}, not a Message")
            return encode_frame(response.to_bytes())
        except (TimeoutError, WireError, Exception) as exc:
            if isinstance(exc, TimeoutError):
                log.warning("handler for %s from %s timed out", request.OPCODE, conn.peer)
            else:
                log.exception("handler for %s from %s failed", request.OPCODE, conn.peer)
            return encode_frame(Error(INTERNAL_ERROR).to_bytes())

    async def _deliver(self, conn: Connection, frame: bytes) -> None:
        """Send a response frame and wait for its ACK; NACK -> resend (3 attempts in all)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self._send(conn, frame)
            outcome = await self._await_ack(conn)
            if outcome:
                return
            log.debug("response to %s NACKed (attempt %d)", conn.peer, attempt)
        raise _SessionEnd(f"response NACKed {MAX_ATTEMPTS} times")

    async def _await_ack(self, conn: Connection) -> bool:
        """True on ACK (or an implicit one), False on NACK."""
        deadline = time.monotonic() + self.response_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _SessionEnd("no ACK for the response")
            event = await self._next_event(conn, limit=remaining)
            if isinstance(event, ControlByte):
                if event.code == Control.ACK:
                    return True
                if event.code == Control.NACK:
                    return False
                if event.code == Control.EOT:
                    raise _SessionEnd("EOT")
                continue  # ENQ while waiting: ignore
            # A frame (good or bad) instead of the ACK: the peer moved on; treat it as an
            # implicit ACK and let the main loop handle what it sent.
            conn._events.appendleft(event)
            return True

    async def _next_event(self, conn: Connection, limit: float | None = None) -> Event:
        """Next decoded event, enforcing the stall and idle deadlines (and ``limit``)."""
        started = time.monotonic()
        while not conn._events:
            now = time.monotonic()
            if conn._decoder.in_frame and conn._frame_started is not None:
                deadline, why = conn._frame_started + self.stall_timeout, "stalled inside a frame"
            else:
                deadline, why = conn._last_byte + self.idle_timeout, "idle"
            if limit is not None and started + limit < deadline:
                deadline, why = started + limit, "no ACK for the response"
            remaining = deadline - now
            if remaining <= 0:
                raise _SessionEnd(why)
            try:
                async with asyncio.timeout(remaining):
                    chunk = await conn._reader.read(READ_SIZE)
            except TimeoutError:
                continue  # the loop re-checks which deadline passed
            if not chunk:
                raise _SessionEnd("peer closed")
            now = time.monotonic()
            conn._last_byte = now
            was_in_frame = conn._decoder.in_frame
            events = conn._decoder.feed(chunk)
            conn._events.extend(events)
            if conn._decoder.in_frame:
                completed = any(not isinstance(e, ControlByte) for e in events)
                if not was_in_frame or completed or conn._frame_started is None:
                    conn._frame_started = now
            else:
                conn._frame_started = None
        return conn._events.popleft()

    async def _send(self, conn: Connection, data: bytes) -> None:
        writer = conn._writer
        if writer.is_closing():
            raise _SessionEnd("socket closed")
        writer.write(data)
        try:
            async with asyncio.timeout(self.write_timeout):
                await writer.drain()
        except TimeoutError:
            raise _SessionEnd("peer does not read (write timed out)") from None
