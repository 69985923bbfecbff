"""Monitor ⇄ Engine health over ZeroMQ REQ/REP (PROTOCOL.md §2).

``HealthResponder`` is the engine's REP socket: it answers every request, bad text included
(``KO#?#reason``), so the strict REP send/receive alternation can never wedge it.
``LazyPirateClient`` is the monitor's REQ side, after the ZeroMQ guide's ``lpclient.py``:
send once, poll with a timeout, read only when a reply waits; on a miss set LINGER 0, close
the socket and open a new one, so a dead or restarted engine never wedges the monitor.
zmq errors are translated into ``HealthError``/``EngineUnreachable`` here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import zmq

from wire.errors import EngineUnreachable, HealthError, MessageError, WireError
from wire.fields import Message, error_reason
from wire.health_messages import HEALTH_REPLIES, HEALTH_REQUESTS, Health, HealthKo, HealthOk, Key

log = logging.getLogger(__name__)

POLL_MS = 100
UNKNOWN_CP = "?"


class HealthResponder:
    """Engine side: a REP socket bound on ``tcp://host:port`` (port 0: a free port)."""

    def __init__(
        self,
        port: int,
        answer: Callable[[Health], HealthOk | HealthKo],
        *,
        host: str = "*",
        context: zmq.Context | None = None,
    ) -> None:
        self._answer = answer
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        try:
            if port == 0:
                self.port = self._sock.bind_to_random_port(f"tcp://{host}")
            else:
                self._sock.bind(f"tcp://{host}:{port}")
                self.port = port
        except zmq.ZMQError as exc:
            self._sock.close(linger=0)
            raise HealthError(f"cannot bind tcp://{host}:{port}: {exc}") from exc
        self.handled = 0

    def serve(self, stop: threading.Event, poll_ms: int = POLL_MS) -> None:
        """Answer requests until ``stop`` is set (checked every ``poll_ms``).

        Run it in one thread and call ``close()`` after it returned (zmq sockets belong to
        one thread at a time).
        """
        while not stop.is_set():
            if not self.serve_once(poll_ms):
                continue

    def serve_once(self, timeout_ms: int = POLL_MS) -> bool:
        """Answer at most one request waiting up to ``timeout_ms``; True if one was answered."""
        try:
            if not self._sock.poll(timeout_ms, zmq.POLLIN):
                return False
            parts = self._sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            raise HealthError(f"health socket failed: {exc}") from exc
        reply = self.reply_to(parts)
        try:
            self._sock.send(reply)
        except zmq.ZMQError as exc:
            raise HealthError(f"health socket failed: {exc}") from exc
        self.handled += 1
        return True

    def reply_to(self, parts: list[bytes]) -> bytes:
        """The reply bytes for one request message; never raises."""
        if len(parts) != 1:
            return HealthKo(UNKNOWN_CP, "expected one frame").to_bytes()
        try:
            request = HEALTH_REQUESTS.parse(parts[0])
        except MessageError as exc:
            return HealthKo(UNKNOWN_CP, error_reason(str(exc))).to_bytes()
        try:
            result = self._answer(request)  # type: ignore[arg-type]
            if not isinstance(result, Message):
                raise TypeError(f"answer returned {type(result).__name__}")
            return result.to_bytes()
        except Exception:
            log.exception("health answer failed")
            cp_id = request.cp_id if isinstance(request, Health) else UNKNOWN_CP
            return HealthKo(cp_id, "internal error").to_bytes()

    def close(self) -> None:
        if not self._sock.closed:
            self._sock.close(linger=0)

    def __enter__(self) -> HealthResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LazyPirateClient:
    """Monitor side: one ``check()`` per second, at most ``timeout_ms`` each.

    Not thread-safe: use it from one thread (the monitor's health loop).
    """

    def __init__(
        self, endpoint: str, *, timeout_ms: int = 500, context: zmq.Context | None = None
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._events: zmq.Socket | None = None  # the REQ socket's monitor (connections)
        self.misses = 0  # consecutive checks without a valid reply
        self.sockets_created = 0
        # TCP connections the REQ socket made so far. A new one means the engine may be a new
        # process (ZeroMQ reconnects by itself, so a quick restart costs no missed check);
        # the monitor then hands the engine its key again.
        self.connections = 0

    def check(self, request: Health | Key) -> HealthOk | HealthKo:
        """Send ``request`` and return the engine's reply.

        Raises ``EngineUnreachable`` when no reply came within ``timeout_ms`` (the socket is
        then replaced), or a ``MessageError`` for a reply that does not parse (the socket is
        replaced too). Never blocks longer than ``timeout_ms`` plus a little bookkeeping.
        """
        payload = request.to_bytes()
        try:
            sock = self._socket()
            sock.send(payload, zmq.NOBLOCK)
            if not sock.poll(self.timeout_ms, zmq.POLLIN):
                raise EngineUnreachable(
                    f"no health reply from {self.endpoint} within {self.timeout_ms} ms"
                )
            parts = sock.recv_multipart(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._miss()
            raise EngineUnreachable(f"health check to {self.endpoint} failed: {exc}") from exc
        except WireError:
            self._miss()
            raise
        try:
            if len(parts) != 1:
                raise MessageError(f"health reply has {len(parts)} frames, expected 1")
            reply = HEALTH_REPLIES.parse(parts[0])
        except MessageError:
            self._miss()
            raise
        self.misses = 0
        self._count_connections()
        return reply  # type: ignore[return-value]

    def close(self) -> None:
        self._discard()

    def __enter__(self) -> LazyPirateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            # the monitor first: events from before it is attached are not reported
            events = sock.get_monitor_socket(zmq.EVENT_CONNECTED)
            try:
                sock.connect(self.endpoint)
            except zmq.ZMQError:
                sock.disable_monitor()
                events.close(linger=0)
                sock.close(linger=0)
                raise
            self._sock, self._events = sock, events
            self.sockets_created += 1
        return self._sock

    def _count_connections(self) -> None:
        """Count the connections the socket monitor reported (never blocks)."""
        events = self._events
        while events is not None:
            try:
                events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                log.debug("health socket monitor: %s", exc)
                return
            self.connections += 1

    def _miss(self) -> None:
        """The REQ socket is confused: close it and open a fresh one (lpclient.py)."""
        self.misses += 1
        self._discard()
        try:
            self._socket()
        except zmq.ZMQError as exc:  # e.g. a bad endpoint; try again on the next check
            log.warning("cannot recreate health socket for %s: %s", self.endpoint, exc)

    def _discard(self) -> None:
        sock, self._sock = self._sock, None
        events, self._events = self._events, None
        if sock is not None and events is not None and not sock.closed:
            with contextlib.suppress(zmq.ZMQError):
                sock.disable_monitor()
        if events is not None and not events.closed:
            events.close(linger=0)
        if sock is not None and not sock.closed:
            sock.setsockopt(zmq.LINGER, 0)
            sock.close(linger=0)
