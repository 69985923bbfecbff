"""Monitor ⇄ Engine health over ZeroMQ REQ/REP (PROTOCOL.md §2).

``HealthResponder`` is the engine's REP socket: it answers every request, bad text included
(``KO#?#reason``), so the strict REP send/receive alternation can never wedge it.
``LazyPirateClient`` is the monitor's REQ side, after the ZeroMQ guide's ``lpclient.py``:
send once, poll with a timeout, read only when a reply waits; on a miss set LINGER 0, close
the socket and open a new one, so a dead or restarted engine never wedges the monitor.
zmq errors are translated into ``HealthError``/``EngineUnreachable`` here.

CURVE (docs/security.md, layer 7): with ``curve`` (a ``wire.curve.CurveServer``)
the responder is a CURVE server whose ZAP handler (``zmq.auth``, in a thread, on a context of
the responder's own: one ZAP handler per context) lets in only the monitor keys the folder
holds; a peer without one never gets a message through, and each message carries the CP its
peer authenticated as (ZeroMQ's ``User-Id``), so a HEALTH or KEY naming another CP is answered
KO. The client's ``curve`` (a ``wire.curve.CurveClient``) gives each new REQ socket its keys
and the engine's public key; a failed handshake is reported as ``EngineHandshakeFailed``,
with the likely cause in words.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from wire.errors import (
    EngineHandshakeFailed,
    EngineUnreachable,
    HealthError,
    MessageError,
    WireError,
)
from wire.fields import Message, error_reason
from wire.health_messages import HEALTH_REPLIES, HEALTH_REQUESTS, Health, HealthKo, HealthOk, Key

if TYPE_CHECKING:
    from wire.curve import CurveClient, CurveServer

log = logging.getLogger(__name__)

POLL_MS = 100
UNKNOWN_CP = "?"
ZAP_DOMAIN = "evc-health"
_MAX_LOGGED = 64  # distinct refused keys / mismatches logged, then quiet (a flood stays cheap)
HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class _Zap(ThreadAuthenticator):
    """The engine's ZAP handler: a CURVE client key is let in when ``curve.peer_of`` names the
    CP it belongs to, and that CP becomes the peer's ``User-Id`` (read on every message)."""

    def __init__(self, context: zmq.Context, curve: CurveServer) -> None:
        super().__init__(context, log=logging.getLogger("wire.health.zap"))
        self._curve = curve
        self._peers: dict[bytes, str] = {}  # Z85 key -> CP, for curve_user_id right after
        self._address = "?"
        self._refused: set[bytes] = set()

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) > 3:
            self._address = msg[3].decode("utf-8", "replace")
        await super().handle_zap_message(msg)

    def callback(self, domain: str, key: bytes) -> bool:
        """The credentials provider's check (``configure_curve_callback``); never raises."""
        try:
            cp_id = self._curve.peer_of(key)
        except Exception:  # a provider that raised would leave the handshake hanging
            log.exception("CURVE key check failed")
            cp_id = None
        if cp_id is None:
            if key not in self._refused and len(self._refused) < _MAX_LOGGED:
                self._refused.add(key)
                pinned = self._curve.pinned
                log.warning(
                    "refused a ZeroMQ peer from %s: its CURVE key %s is not a monitor key of %s "
                    "in %s (docs/security.md)",
                    self._address,
                    key.decode("ascii", "replace"),
                    pinned or "any CP",
                    self._curve.keys.root,
                )
            return False
        if len(self._peers) > 1024:
            self._peers.clear()
        self._peers[key] = cp_id
        return True

    def curve_user_id(self, client_public_key: bytes) -> str:
        return self._peers.get(z85.encode(client_public_key), UNKNOWN_CP)


class HealthResponder:
    """Engine side: a REP socket bound on ``tcp://host:port`` (port 0: a free port).

    ``host`` defaults to the loopback interface: the monitor normally shares the engine's
    host, and nobody else should reach the socket. ``curve``: CURVE server (module docstring);
    None: plain ZeroMQ, which anyone who reaches the port can talk to."""

    def __init__(
        self,
        port: int,
        answer: Callable[[Health], HealthOk | HealthKo],
        *,
        host: str = "127.0.0.1",
        context: zmq.Context | None = None,
        curve: CurveServer | None = None,
    ) -> None:
        self._answer = answer
        self.curve = curve
        self._zap: _Zap | None = None
        self._own_context: zmq.Context | None = None
        self._mismatches: set[tuple[str, str]] = set()
        if curve is None:
            self._ctx = context or zmq.Context.instance()
        else:
            self._ctx = self._own_context = zmq.Context()
        try:
            if curve is not None:
                self._zap = _Zap(self._ctx, curve)
                self._zap.start()  # before the socket exists: no handshake without it
                self._zap.configure_curve_callback(ZAP_DOMAIN, credentials_provider=self._zap)
            self._sock = self._ctx.socket(zmq.REP)
            self._sock.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                self._sock.curve_secretkey = curve.keypair.secret
                self._sock.curve_publickey = curve.keypair.public
                self._sock.zap_domain = ZAP_DOMAIN.encode()
                self._sock.curve_server = True
        except (zmq.ZMQError, RuntimeError) as exc:
            self._release()
            raise HealthError(f"cannot set up the CURVE health socket: {exc}") from exc
        try:
            if port == 0:
                self.port = self._sock.bind_to_random_port(f"tcp://{host}")
            else:
                self._sock.bind(f"tcp://{host}:{port}")
                self.port = port
        except zmq.ZMQError as exc:
            self.close()
            raise HealthError(f"cannot bind tcp://{host}:{port}: {exc}") from exc
        self.handled = 0

    def pin(self, cp_id: str) -> None:
        """The engine adopted ``cp_id``: from now on only its monitor keys get in (CURVE)."""
        if self.curve is not None:
            self.curve.pin(cp_id)

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
            frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            # the CP whose monitor key the peer authenticated with (set by the ZAP handler)
            peer = frames[0].get("User-Id") if self.curve is not None and frames else None
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            raise HealthError(f"health socket failed: {exc}") from exc
        reply = self.reply_to([frame.bytes for frame in frames], peer=peer)
        try:
            self._sock.send(reply)
        except zmq.ZMQError as exc:
            raise HealthError(f"health socket failed: {exc}") from exc
        self.handled += 1
        return True

    def reply_to(self, parts: list[bytes], peer: str | None = None) -> bytes:
        """The reply bytes for one request message; never raises. ``peer``: the CP the sender
        authenticated as (CURVE); a request naming another CP is answered KO, unseen by the
        engine."""
        if len(parts) != 1:
            return HealthKo(UNKNOWN_CP, "expected one frame").to_bytes()
        try:
            request = HEALTH_REQUESTS.parse(parts[0])
        except MessageError as exc:
            return HealthKo(UNKNOWN_CP, error_reason(str(exc))).to_bytes()
        claimed = getattr(request, "cp_id", UNKNOWN_CP)
        if peer is not None and claimed != peer:
            if (peer, claimed) not in self._mismatches and len(self._mismatches) < _MAX_LOGGED:
                self._mismatches.add((peer, claimed))
                log.warning(
                    "the monitor key of %s sent a request for %s: answered KO", peer, claimed
                )
            return HealthKo(claimed, f"not the CP of this monitor key ({peer})").to_bytes()
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
        self._release()

    def _release(self) -> None:
        """Stop the ZAP handler and end the responder's own context (CURVE)."""
        zap, self._zap = self._zap, None
        if zap is not None:
            zap.stop()
        ctx, self._own_context = self._own_context, None
        if ctx is not None:
            if hasattr(self, "_sock") and not self._sock.closed:
                self._sock.close(linger=0)
            ctx.term()

    def __enter__(self) -> HealthResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LazyPirateClient:
    """Monitor side: one ``check()`` per second, at most ``timeout_ms`` each.

    Not thread-safe: use it from one thread (the monitor's health loop).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        timeout_ms: int = 500,
        context: zmq.Context | None = None,
        curve: CurveClient | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.curve = curve  # None: plain ZeroMQ
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._events: zmq.Socket | None = None  # the REQ socket's monitor (connections)
        self._handshake: tuple[int, int] | None = None  # last failed handshake: (event, value)
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
                self._count_connections()
                raise self._no_reply()
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
        self._handshake = None
        return reply  # type: ignore[return-value]

    def close(self) -> None:
        self._discard()

    def __enter__(self) -> LazyPirateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            # CURVE: the keys are read for every new socket (a rotated key counts at once);
            # a missing one is a CurveKeyError, a miss like any other
            keys = self.curve.load() if self.curve is not None else None
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            try:
                if keys is not None:
                    own, engine = keys
                    sock.curve_secretkey = own.secret
                    sock.curve_publickey = own.public
                    sock.curve_serverkey = engine
                # the monitor first: events from before it is attached are not reported
                events = sock.get_monitor_socket(zmq.EVENT_CONNECTED | HANDSHAKE_FAILED)
            except zmq.ZMQError:
                sock.close(linger=0)
                raise
            try:
                sock.connect(self.endpoint)
            except zmq.ZMQError:
                sock.disable_monitor()
                events.close(linger=0)
                sock.close(linger=0)
                raise
            self._sock, self._events = sock, events
            self._handshake = None
            self.sockets_created += 1
        return self._sock

    def _count_connections(self) -> None:
        """Count the connections the socket monitor reported, and remember a failed security
        handshake (never blocks)."""
        events = self._events
        while events is not None:
            try:
                message = events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                log.debug("health socket monitor: %s", exc)
                return
            try:
                event = parse_monitor_message(message)
            except (ValueError, IndexError, TypeError) as exc:
                log.debug("health socket monitor: %s", exc)
                continue
            if event["event"] == zmq.EVENT_CONNECTED:
                self.connections += 1
            elif event["event"] & HANDSHAKE_FAILED:
                # a detailed failure is not overwritten by a later bare one (a peer closing
                # mid-handshake, seen under load after the mechanism mismatch)
                bare = event["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                if not (bare and self._handshake is not None):
                    self._handshake = (int(event["event"]), int(event["value"]))

    def _no_reply(self) -> EngineUnreachable:
        """The error for a check without a reply: why, when ZeroMQ told us."""
        if self._handshake is None:
            return EngineUnreachable(
                f"no health reply from {self.endpoint} within {self.timeout_ms} ms"
            )
        kind, value = self._handshake
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            why = "the engine refused our CURVE key"
            if self.curve is not None:
                why += (
                    f" ({self.curve.keys.monitor_public(self.curve.cp_id)}): its host's "
                    f"curve/{self.curve.cp_id}/ folder must hold a copy of it (or that engine "
                    "already serves another CP)"
                )
        elif value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            why = (
                "the engine speaks plain ZeroMQ (--insecure?) and we use CURVE"
                if self.curve is not None
                else "the engine requires CURVE and we speak plain ZeroMQ (--insecure): "
                "run both secure or both --insecure"
            )
        elif self.curve is not None:
            why = (
                "the CURVE handshake failed: is "
                f"{self.curve.keys.engine_public} the engine's public key (curve/engine.key of "
                "its host)?"
            )
        else:
            why = (
                "the ZeroMQ handshake failed: the engine probably requires CURVE and we speak "
                "plain ZeroMQ (--insecure): run both secure or both --insecure"
            )
        return EngineHandshakeFailed(f"{why} (docs/security.md)")

    def _miss(self) -> None:
        """The REQ socket is confused: close it and open a fresh one (lpclient.py)."""
        self.misses += 1
        self._discard()
        try:
            self._socket()
        except zmq.ZMQError as exc:  # e.g. a bad endpoint; try again on the next check
            log.warning("cannot recreate health socket for %s: %s", self.endpoint, exc)
        except WireError as exc:  # a missing CURVE key: the next check raises it again
            log.debug("cannot recreate health socket for %s: %s", self.endpoint, exc)

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
