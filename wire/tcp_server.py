"""Central's side of the framed-TCP session (PROTOCOL.md §1), on ``asyncio.Protocol``.

Central must carry 10,000 monitors sending a heartbeat a second each. The first version ran
one coroutine per connection with an ``asyncio.timeout`` around every read and saturated a
core at ~3,000 monitors: every exchange cost several task wake-ups and timer inserts and
cancels. Here a connection is a protocol object driven by callbacks: ``data_received``
feeds the incremental ``FrameDecoder`` and a state machine answers with ``transport.write``
(ACK and response in one write). A handler that answers synchronously is served inside
``data_received`` with no task at all; only a handler that returns an awaitable (REGISTER
writing a database) gets a task. No timer exists per connection: one sweep task visits every
connection a few times a second and ends those past a deadline.

The request handler only sees parsed ``Request`` objects and returns a ``Response``, or an
awaitable of one; everything the protocol says about bytes is done here, with the rules the
client follows too (ACK/NACK, attempts, resends) in ``wire.session.FramedSession``:

* Handshake: the first thing a peer sends must be ``ENQ``; it is answered ``ACK``. Anything
  else first (a frame, garbage, ACK/NACK/EOT) is answered ``NACK`` and the connection is
  closed, as for a refused ENQ. (A later ``ENQ`` inside an open session is answered ``ACK``
  again and changes nothing.) With ``max_connections`` set, an ENQ beyond it is refused; with
  ``refusing`` set (a standby Central), every ENQ is.
* Each valid frame is answered ``ACK`` and parsed; an unknown opcode or bad field becomes an
  ``ERROR#reason`` response without calling the handler. The response frame is then
  resent on ``NACK`` (at most 3 attempts in all, then the connection is closed); the peer's
  ``ACK`` has to arrive within ``response_timeout``. A new request frame arriving instead of
  the ``ACK`` is taken as an implicit ``ACK`` and processed.
* Requests of one connection are handled strictly one after the other: frames arriving
  while a slow handler runs wait (reading pauses if too many pile up).
* A handler's exception or timeout (``handler_timeout``) becomes ``ERROR#internal error``;
  the session goes on.
* A frame with a bad LRC, or bytes outside a frame, are answered ``NACK``; three bad
  frames in a row (no valid frame between them) close the connection.
* An oversized frame closes the connection at once (no NACK).
* ``stall_timeout`` counts from the first byte of a frame: a frame that is not complete that
  long after its STX closes the connection, so a peer trickling one byte every few seconds
  cannot hold a connection open. ``idle_timeout`` counts from the last byte received.
* A peer that does not read (our writes stay paused longer than ``write_timeout``) is
  dropped instead of growing a buffer or delaying anybody else.
* ``EOT`` closes the connection.
* With ``ssl`` (an ``ssl.SSLContext``) every accepted socket first does a TLS handshake and
  the framing runs unchanged inside it. A handshake has to finish within ``stall_timeout``
  (a peer that stalls it is dropped like one stalling a frame); the idle clock starts once it
  is done. A peer that speaks plaintext (or garbage) to a TLS server fails the handshake and
  is closed with one debug line, no NACK (it could not read one anyway). The handshake runs
  in a short-lived task per connection (the loop API awaits it); the session itself has none.

Deadlines are checked by the sweep every ``min(0.25 s, shortest timeout / 10)``, so a
connection ends at most one sweep period after its deadline. A sweep more than a second late
means the process itself stood still (SIGSTOP, a long GC): for a second after it the sweep
ends nobody, so what the peers sent meanwhile is read before their silence is judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from wire.aio import Accepted, Listener, bind
from wire.errors import MessageError
from wire.fields import Message, error_reason
from wire.framing import BadFrame, Control, ControlByte, Event, Frame, FrameDecoder, encode_frame
from wire.pauses import PauseWatch
from wire.session import ACK, NACK, FramedSession
from wire.tcp_messages import REQUESTS, Error, Request, Response

log = logging.getLogger(__name__)

BACKLOG = 4096
INTERNAL_ERROR = "internal error"
MAX_SWEEP_PERIOD = 0.25
# Events a connection may have queued behind a running handler before reading pauses.
MAX_QUEUED_EVENTS = 32
# Per-connection write buffer: responses are tens of bytes, so 8 KiB queued means the peer
# stopped reading; pause_writing then starts the write_timeout clock.
WRITE_HIGH_WATER = 8192

# Heartbeats are 10,000 a second and a monitor sends the same text every time; parsing the
# request and formatting the answer were half of the Python time per exchange, so both are
# memoised for heartbeats only (other opcodes are rare, and AUTH/REGISTER carry secrets that
# should not linger in a cache). Requests and responses are frozen dataclasses, safe to share.
_MEMO_PREFIX = b"HEARTBEAT#"
MEMO_SIZE = 65536  # entries per memo; cleared when full (a few MiB at most)

_INTERNAL_ERROR_FRAME = encode_frame(Error(INTERNAL_ERROR).to_bytes())

# Connection states.
_HANDSHAKE, _READY, _HANDLING, _AWAIT_ACK, _CLOSED = range(5)


class Connection(asyncio.Protocol):
    """One accepted socket and its session state; handed to the handler with every request."""

    def __init__(self, server: FramedServer, peer: str) -> None:
        now = time.monotonic()
        self.peer = peer
        self.cp_id: str | None = None
        self.last_valid_frame = now
        self.opened_at = now
        self.session_open = False
        self._server = server
        self._loop = server._loop
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder()
        self._events: deque[Event] = deque()
        self._state = _HANDSHAKE
        self._last_byte = now
        self._frame_started: float | None = None
        self._session = FramedSession()  # ACK/NACK, attempts, resends (wire.session)
        self._write_paused_at: float | None = None
        self._reading_paused = False
        self._close_requested = False
        self._in_handler = False
        self._task: asyncio.Task[None] | None = None
        self._task_started = False
        self._awaitable: Awaitable[Any] | None = None

    def __repr__(self) -> str:
        return f"<Connection {self.peer} cp_id={self.cp_id!r} closed={self.closed}>"

    @property
    def closed(self) -> bool:
        return self._close_requested or self._state == _CLOSED

    def close(self) -> None:
        """End this connection (e.g. replaced by a newer AUTH). Safe to call repeatedly.

        From this connection's own handler the current response is still sent (and its ACK
        awaited) first; from anywhere else the connection ends on the loop's next turn, so
        ``on_close`` never runs inside another connection's handler. Thread-safe.
        """
        if self.closed:
            return
        self._close_requested = True
        if self._in_handler or (self._task is not None and _current_task() is self._task):
            return  # ended by _acked() once the response is through
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._loop.call_soon(self._end, "closed by the server")
        else:
            self._loop.call_soon_threadsafe(self._end, "closed by the server")

    # -- asyncio.Protocol callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._server._unlost.add(self)
        self._last_byte = time.monotonic()  # the idle clock starts after a TLS handshake
        if self._state == _CLOSED:  # ended (server closing, close()) before the socket was ready
            transport.close()
            return
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        if self._state == _CLOSED:
            return
        now = time.monotonic()
        self._last_byte = now
        decoder = self._decoder
        was_in_frame = decoder.in_frame
        if data == ACK and self._state == _AWAIT_ACK and not was_in_frame and not self._events:
            self._acked()  # the monitor's ACK of our response, alone in its segment: the
            return  # decoder would only turn it into ControlByte(ACK)
        events = decoder.feed(data)
        if decoder.in_frame:
            if (
                not was_in_frame
                or self._frame_started is None
                or any(type(e) is not ControlByte for e in events)
            ):
                self._frame_started = now  # a new frame began in this chunk
        else:
            self._frame_started = None
        if not events:
            return
        self._events.extend(events)
        self._pump()

    def eof_received(self) -> bool | None:
        self._end("peer closed")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("peer closed" if exc is None else f"socket error: {exc}")
        server = self._server
        server._unlost.discard(self)
        lost = server._all_lost
        if not server._unlost and lost is not None and not lost.done():
            lost.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused_at = time.monotonic()
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused_at = None
        self._update_reading()

    # -- the session state machine ---------------------------------------------------------

    def _pump(self) -> None:
        """Process queued events until none is left or a slow handler is running."""
        events = self._events
        try:
            while events:
                state = self._state
                if state == _READY:
                    self._on_session_event(events.popleft())
                elif state == _AWAIT_ACK:
                    self._on_ack_wait_event(events.popleft())
                elif state == _HANDSHAKE:
                    self._on_handshake_event(events.popleft())
                else:  # _HANDLING waits for the handler; _CLOSED drops the rest
                    break
        except Exception:  # a bug here must not take the loop down; end this session only
            log.exception("session with %s failed", self.peer)
            self._end("internal error")
            return
        if self._reading_paused or len(events) > MAX_QUEUED_EVENTS:
            self._update_reading()

    def _on_handshake_event(self, event: Event) -> None:
        server = self._server
        full = server.max_connections is not None and server._sessions >= server.max_connections
        refused = full or server.refusing is not None  # a standby refuses every session
        code = event.code if type(event) is ControlByte else None  # type: ignore[union-attr]
        answer, opened = self._session.open_answer(code, refuse=refused)
        self._write(answer)
        if not opened:
            why = server.refusing or ("too many connections" if full else f"got {event!r}")
            self._end(f"{self._session.problem}: {why}")
            return
        self.session_open = True
        server._sessions += 1
        self._state = _READY

    def _on_session_event(self, event: Event) -> None:
        kind = type(event)
        if kind is Frame:
            self._session.good_frame()  # its ACK leaves with the response, in one write
            self.last_valid_frame = time.monotonic()
            self._dispatch(event.data)  # type: ignore[union-attr]
        elif kind is BadFrame:
            session = self._session
            answer = session.bad_frame(event.error)  # type: ignore[union-attr]
            if answer is None:
                self._end(session.problem)
                return
            self._write(answer)
            if session.too_many_bad:
                self._end(session.problem)
        else:
            code = event.code  # type: ignore[union-attr]
            if code == Control.EOT:
                self._end("EOT")
            elif code == Control.ENQ:
                self._write(ACK)
            # a stray ACK/NACK outside an exchange is ignored

    def _on_ack_wait_event(self, event: Event) -> None:
        if type(event) is ControlByte:
            code = event.code
            if code == Control.ACK:
                self._acked()
            elif code == Control.NACK:
                session = self._session
                again = session.nacked(time.monotonic())
                if again is None:
                    self._end(f"response {session.problem}")
                    return
                log.debug("response to %s NACKed (attempt %d)", self.peer, session.attempts)
                self._write(again)
            elif code == Control.EOT:
                self._end("EOT")
            # ENQ while waiting: ignored
            return
        # A frame (good or bad) instead of the ACK: the peer moved on; treat it as an
        # implicit ACK and handle what it sent.
        self._acked()
        if self._state == _READY:
            self._on_session_event(event)

    def _acked(self) -> None:
        self._session.acked()
        self._state = _READY
        if self._close_requested:
            self._end("closed by the server")

    def _dispatch(self, data: bytes) -> None:
        """Parse and handle one request: answered now (fast path) or by a task (slow path)."""
        server = self._server
        memo = data.startswith(_MEMO_PREFIX)
        request = server._requests.get(data) if memo else None
        if request is None:
            try:
                request = REQUESTS.parse(data)
            except MessageError as exc:
                self._respond(encode_frame(Error(error_reason(str(exc))).to_bytes()), with_ack=True)
                return
            if memo:
                _remember(server._requests, data, request)
        self._in_handler = True
        try:
            result = server._handler(self, request)
            if isinstance(result, Message):
                frame = server._frames.get(result) if memo else None
                if frame is None:
                    frame = encode_frame(result.to_bytes())
                    if memo:
                        _remember(server._frames, result, frame)
            elif inspect.isawaitable(result):
                self._start_slow(request, result)
                return
            else:
                raise TypeError(f"handler returned {type(result).__name__}, not a Message")
        except Exception:
            log.exception("handler for %s from %s failed", request.OPCODE, self.peer)
            frame = _INTERNAL_ERROR_FRAME
        finally:
            self._in_handler = False
        self._respond(frame, with_ack=True)

    def _respond(self, frame: bytes, *, with_ack: bool) -> None:
        self._session.sent(frame, time.monotonic())
        self._state = _AWAIT_ACK
        self._write(ACK + frame if with_ack else frame)

    def _start_slow(self, request: Request, awaitable: Awaitable[Any]) -> None:
        self._write(ACK)  # the request is good; the response follows when the handler ends
        self._state = _HANDLING
        self._awaitable = awaitable
        self._task_started = False
        self._task = self._loop.create_task(self._run_slow(request, awaitable))

    async def _run_slow(self, request: Request, awaitable: Awaitable[Any]) -> None:
        self._task_started = True
        try:
            async with asyncio.timeout(self._server.handler_timeout):
                result = await awaitable
            if not isinstance(result, Message):
                raise TypeError(f"handler returned {type(result).__name__}, not a Message")
            frame = encode_frame(result.to_bytes())
        except TimeoutError:
            log.warning("handler for %s from %s timed out", request.OPCODE, self.peer)
            frame = _INTERNAL_ERROR_FRAME
        except Exception:
            log.exception("handler for %s from %s failed", request.OPCODE, self.peer)
            frame = _INTERNAL_ERROR_FRAME
        finally:
            self._task = None
            self._awaitable = None
        if self._state != _HANDLING:
            return
        self._respond(frame, with_ack=False)
        self._pump()

    # -- output, flow control, deadlines, ending ----------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or self._state == _CLOSED:
            return
        pause = self._write_paused_at is not None or len(self._events) > MAX_QUEUED_EVENTS
        if pause != self._reading_paused:
            self._reading_paused = pause
            with contextlib.suppress(RuntimeError):  # transport closing
                if pause:
                    transport.pause_reading()
                else:
                    transport.resume_reading()

    def _expired(self, now: float) -> str | None:
        """Which deadline has passed, if any (called by the server's sweep)."""
        server = self._server
        if self._write_paused_at is not None and now - self._write_paused_at > server.write_timeout:
            return "peer does not read (write timed out)"
        state = self._state
        if state == _AWAIT_ACK and self._session.overdue(now, server.response_timeout):
            return "no ACK for the response"
        if state == _HANDLING or self._reading_paused:
            return None  # bytes are not being read: handler_timeout / write_timeout govern
        if self._frame_started is not None and now - self._frame_started > server.stall_timeout:
            return "stalled inside a frame"
        if now - self._last_byte > server.idle_timeout:
            return "idle"
        return None

    def _end(self, reason: str) -> None:
        """End the session: idempotent; the socket is closed and ``on_close`` called once."""
        if self._state == _CLOSED:
            return
        was_writing_stuck = self._write_paused_at is not None
        self._state = _CLOSED
        self._events.clear()
        task = self._task
        if task is not None:
            task.cancel()
            if not self._task_started and inspect.iscoroutine(self._awaitable):
                self._awaitable.close()  # never awaited: close it quietly
        transport = self._transport
        if transport is not None:
            if was_writing_stuck:
                transport.abort()  # the buffer will not drain
            else:
                transport.close()  # flushes what is buffered (e.g. a NACK) first
        self._server._forget(self)
        log.debug("connection %s (%s) ended: %s", self.peer, self.cp_id, reason)
        on_close = self._server._on_close
        if on_close is not None:
            try:
                on_close(self)
            except Exception:
                log.exception("on_close callback failed for %s", self.peer)


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= MEMO_SIZE:
        memo.clear()  # cheaper than LRU bookkeeping; refilled within a second
    memo[key] = value


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # not on a loop thread
        return None


RequestHandler = Callable[[Connection, Request], Response | Awaitable[Response]]


class FramedServer:
    """Accepts monitor connections; one protocol object per connection, one sweep task.

    ``sock``: an already listening socket to use instead of binding ``host``/``port`` (so a
    caller can report a busy port before starting its loop); the server owns and closes it.
    """

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
        sock: socket.socket | None = None,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        self._handler = handler
        self._ssl = ssl
        self._sock = sock
        self._host = host
        self._port = port
        self.stall_timeout = stall_timeout
        self.idle_timeout = idle_timeout
        self.response_timeout = response_timeout
        self.handler_timeout = handler_timeout if handler_timeout is not None else response_timeout
        self.write_timeout = write_timeout
        self.max_connections = max_connections
        # A reason to answer every ENQ with NACK (a standby Central); None: sessions welcome.
        self.refusing: str | None = None
        self.sweep_period = min(
            MAX_SWEEP_PERIOD,
            max(0.01, min(stall_timeout, idle_timeout, response_timeout, write_timeout) / 10),
        )
        self._backlog = backlog
        self._on_close = on_close
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start()
        self._listener: Listener | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        self._connections: dict[Connection, None] = {}  # insertion-ordered set
        self._unlost: set[Connection] = set()  # transports whose connection_lost is pending
        self._all_lost: asyncio.Future[None] | None = None
        self._sessions = 0
        self._requests: dict[bytes, Request] = {}  # heartbeat memos, see _MEMO_PREFIX
        self._frames: dict[Message, bytes] = {}
        self._closing = False
        self.port: int | None = None

    @property
    def connections(self) -> list[Connection]:
        return [conn for conn in self._connections if not conn.closed]

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._sock.setblocking(False)
            sockets = [self._sock]
        else:
            sockets = await bind(self._loop, self._host, self._port, self._backlog)
        self.port = sockets[0].getsockname()[1]
        # Out of descriptors, a plaintext peer is refused with NACK; a TLS peer could not
        # read a NACK, so it just sees the connection closed.
        refusal = NACK if self._ssl is None else b""
        self._listener = Listener(self._loop, sockets, self._accepted, refusal=refusal)
        self._listener.start()
        self._sweeper = self._loop.create_task(self._sweep(), name="evc-tcp-sweep")
        log.info(
            "framed TCP server listening on %s:%s%s",
            self._host,
            self.port,
            " (TLS)" if self._ssl is not None else "",
        )
        return self.port

    @property
    def tls(self) -> bool:
        return self._ssl is not None

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening and end every connection (waiting up to ``timeout`` for sockets)."""
        self._closing = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._adopting):
            task.cancel()
        handler_tasks = [conn._task for conn in self._connections if conn._task is not None]
        for conn in list(self._connections):
            conn._end("server closing")
        waits: list[asyncio.Future[Any]] = [t for t in handler_tasks if t is not None]
        waits.extend(self._adopting)
        if self._unlost:
            self._all_lost = self._loop.create_future()
            waits.append(self._all_lost)
        if waits:
            await asyncio.wait(waits, timeout=timeout)

    async def __aenter__(self) -> FramedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- accepting -------------------------------------------------------------------------

    def _accepted(self, accepted: Accepted) -> None:
        """Listener callback: give every new socket a Connection, then a transport."""
        batch: list[tuple[Connection, socket.socket]] = []
        for sock, addr in accepted:
            if self._closing:
                sock.close()
                continue
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr or "?")
            conn = Connection(self, peer)
            self._connections[conn] = None
            batch.append((conn, sock))
        if not batch:
            return
        if self._ssl is None:
            self._track(self._loop.create_task(self._adopt(batch)))
            return
        for conn, sock in batch:  # handshakes run concurrently: one stalled peer waits alone
            self._track(self._loop.create_task(self._adopt_tls(conn, sock)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt(self, batch: list[tuple[Connection, socket.socket]]) -> None:
        """Wrap accepted sockets in transports (a coroutine in the loop API, hence a task
        per accepted batch, never per connection's lifetime)."""
        pending = deque(batch)
        try:
            while pending:
                conn, sock = pending[0]
                if conn._state == _CLOSED:
                    sock.close()
                else:
                    try:
                        await self._loop.connect_accepted_socket(lambda c=conn: c, sock)
                    except OSError as exc:
                        sock.close()
                        conn._end(f"socket error: {exc}")
                pending.popleft()
        finally:
            for conn, sock in pending:  # cancelled by close()
                if conn._transport is None:
                    sock.close()
                conn._end("server closing")

    async def _adopt_tls(self, conn: Connection, sock: socket.socket) -> None:
        """TLS handshake, then the same protocol object as in plaintext."""
        try:
            await self._loop.connect_accepted_socket(
                lambda: conn, sock, ssl=self._ssl, ssl_handshake_timeout=self.stall_timeout
            )
        except asyncio.CancelledError:  # close(): the loop closed the transport already
            sock.close()
            conn._end("server closing")
            raise
        except (OSError, TimeoutError, ValueError) as exc:  # ssl.SSLError is an OSError
            sock.close()
            conn._end(f"TLS handshake failed: {exc}")

    def _forget(self, conn: Connection) -> None:
        if conn in self._connections:
            del self._connections[conn]
            if conn.session_open:
                self._sessions -= 1

    # -- deadlines -------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """The one timer of the server: end every connection past one of its deadlines.

        Right after the process itself stood still (``wire.pauses``) it ends nobody for a
        moment: the peers' bytes that waited in the sockets are read first."""
        period = self.sweep_period
        pauses = PauseWatch(period, started=time.monotonic())
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            paused = pauses.check(now)
            if paused:
                log.debug("the process stood still for %.1f s: reading before judging", paused)
            if pauses.holding(now):
                continue
            for conn in tuple(self._connections):
                try:
                    reason = conn._expired(now)
                    if reason is not None:
                        conn._end(reason)
                except Exception:
                    log.exception("deadline check of %s failed", conn.peer)
