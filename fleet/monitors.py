"""Simulated CP monitors: PROTOCOL.md §1 over asyncio Protocols, thousands per event loop.

A ``MonitorSession`` is one TCP connection of one CP: ENQ/ACK handshake, REGISTER (with a
claim, and the operator's enrollment token when ``tokens`` has one for the CP: a secured
Central registers no CP without it) once, AUTH with the credential, then a HEARTBEAT every second at the CP's own phase.
Every frame goes through ``wire.framing``; every message through ``wire.tcp_messages``.
Responses are ACKed, NACKed frames resent (3 attempts), a response that takes longer than
``response_timeout`` (10 s) drops the connection, and a dropped connection is retried with
EV_CP_M's full-jitter exponential back-off (0.2 s doubling to 5 s).

With ``tls_ca`` the monitors speak TLS (``wire.tls.client_context``: Central's certificate
checked against that CA and the name 127.0.0.1) and, like EV_CP_M, keep each CP's TLS
session across reconnections: the session read after the first response of a connection is
offered on the next one (``SessionContext``), so a reconnection to the same Central process
resumes; after a Central restart the ticket is refused and the handshake is a full one.
Counted per phase: ``tls_full`` and ``tls_resumed`` handshakes.

Heartbeat accounting: a heartbeat is *due* at the CP's tick; if the previous request is
still outstanding it is sent as soon as that one is answered, and its latency counts from
the tick (what the monitor experiences). It is *answered* when ALIVE arrives within
``ANSWER_LIMIT`` of the tick. The statistics of a phase belong to the phase the heartbeat
was due in; sessions older than a phase marked ``stale`` (e.g. the ones that died with a
SIGKILLed Central) count apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.stats import Histogram
from wire.errors import FrameTooLarge, WireError
from wire.framing import BadFrame, Control, ControlByte, Frame, FrameDecoder, encode_frame
from wire.tcp_messages import (
    RESPONSES,
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Error,
    Heartbeat,
    Register,
    Registered,
    Rejected,
)
from wire.tls import client_context

log = logging.getLogger(__name__)

ANSWER_LIMIT = 2.0
NEXT_CENTRAL_S = 0.05  # as EV_CP_M: the other Central of a pair is tried at once
RESPONSE_TIMEOUT = 10.0  # as EV_CP_M (wire.tcp_client): tolerates a loaded Central
BACKOFF_BASE = 0.2
MAX_ATTEMPTS = 3
SLOTS = 100  # the heartbeat wheel: 100 phases of 10 ms

_ACK = bytes([Control.ACK])
_NACK = bytes([Control.NACK])
_ENQ = bytes([Control.ENQ])
_EOT = bytes([Control.EOT])

_HANDSHAKE, _IDLE, _WAIT = range(3)


@dataclass
class PhaseStats:
    """What the monitors of one worker saw during one phase."""

    hb_due: int = 0
    hb_ok: int = 0  # answered within ANSWER_LIMIT of the tick
    hb_late: int = 0  # answered, but later than that
    hb_lost: int = 0  # never answered: the connection dropped, or an error response
    hb_overdue: int = 0  # still outstanding and older than ANSWER_LIMIT (at the snapshot)
    latency: Histogram = field(default_factory=Histogram)
    # how late this worker's own heartbeat wheel ran: a latency above it may be the
    # generator's (starved of CPU on a shared machine), not Central's
    tick_lag: Histogram = field(default_factory=Histogram)
    connects: int = 0
    connect_failures: int = 0
    refused: int = 0
    drops: int = 0
    timeouts: int = 0
    registered: int = 0
    register_rejected: int = 0
    locked_out: int = 0
    auth_ok: int = 0
    auth_rejected: int = 0
    errors: int = 0
    tls_full: int = 0  # full TLS handshakes
    tls_resumed: int = 0  # TLS handshakes that resumed the CP's previous session
    auth_times: list[float] = field(default_factory=list)  # wall clock of first AUTH per CP

    def merge(self, other: PhaseStats) -> None:
        for name in self.__dataclass_fields__:
            mine = getattr(self, name)
            if isinstance(mine, int):
                setattr(self, name, mine + getattr(other, name))
        self.latency.merge(other.latency)
        self.tick_lag.merge(other.tick_lag)
        self.auth_times.extend(other.auth_times)

    @property
    def answered_pct(self) -> float | None:
        resolved = self.hb_ok + self.hb_late + self.hb_lost + self.hb_overdue
        return None if resolved == 0 else 100.0 * self.hb_ok / resolved


class Cp:
    """One simulated charging point's monitor state, across its connections."""

    __slots__ = (
        "cp_id",
        "claim",
        "token",
        "x",
        "y",
        "slot",
        "credential",
        "use_claim",
        "session",
        "connecting",
        "failures",
        "locked_out",
        "silence_wanted",
        "silenced_at",
        "up_since",
        "intervals",
        "auth_phase",
        "registered_at",
        "last_hb_sent",
        "hb_frame",
        "tls_session",
        "key",
        "at",
        "round_start",
    )

    def __init__(self, cp_id: str, claim: str, x: float, y: float, slot: int) -> None:
        self.cp_id, self.claim, self.x, self.y, self.slot = cp_id, claim, x, y, slot
        self.token = ""  # the operator's enrollment token (a secured Central wants one)
        self.credential: str | None = None
        self.use_claim = True
        self.session: MonitorSession | None = None
        self.connecting = False
        self.failures = 0
        self.locked_out = False
        self.silence_wanted = False
        self.silenced_at: float | None = None  # wall clock of the last frame before silence
        self.up_since: float | None = None
        self.intervals: list[tuple[float, float]] = []
        self.auth_phase = ""
        self.registered_at: float | None = None
        self.last_hb_sent = 0.0
        self.hb_frame = encode_frame(Heartbeat(cp_id, EngineHealth.OK).to_bytes())
        self.tls_session: ssl.SSLSession | None = None
        self.key = ""  # the CP's Kafka key, from REGISTERED / AUTHORIZED
        self.at = 0  # which of the fleet's Central ports (a pair has two)
        self.round_start = 0  # where this round of failed addresses began


class SessionContext:
    """An ``ssl.SSLContext`` stand-in for one connection that offers ``session`` for
    resumption: asyncio's and uvloop's ``create_connection`` take no ``session=``, but both
    only call ``wrap_bio`` on the context they are given."""

    __slots__ = ("_context", "_session")

    def __init__(self, context: ssl.SSLContext, session: ssl.SSLSession) -> None:
        self._context, self._session = context, session

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self._context.wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session or self._session,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class MonitorSession(asyncio.Protocol):
    """One connection of one CP's monitor."""

    def __init__(self, cp: Cp, fleet: MonitorFleet) -> None:
        self.cp, self.fleet = cp, fleet
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.state = _HANDSHAKE
        self.since = time.monotonic()
        self.kind = ""
        self.frame = b""
        self.attempts = 0
        self.hb_due: float | None = None
        self.received_at = 0.0  # when data_received last began
        self.hb_stats: PhaseStats | None = None
        self.queued_due: float | None = None
        self.queued_stats: PhaseStats | None = None
        self.authenticated = False
        self.counted = False  # counted in the fleet's live "authenticated" gauge
        self.stale = False
        self.closed = False
        self.tls = False
        self.session_kept = False

    # --- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cp.session = self
        self.cp.connecting = False
        self.since = time.monotonic()
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:  # asyncio calls connection_made once the handshake is done
            self.tls = True
            if tls.session_reused:
                self.fleet.current.tls_resumed += 1
            else:
                self.fleet.current.tls_full += 1
        transport.write(_ENQ)

    def data_received(self, data: bytes) -> None:
        # when the bytes reached this process: a response's latency must not include the
        # ACK this worker sends first, nor its work on the responses read just before
        self.received_at = time.monotonic()
        for event in self.decoder.feed(data):
            if self.closed or self.cp.silenced_at is not None:
                return
            if isinstance(event, ControlByte):
                self._on_control(event.code)
            elif isinstance(event, Frame):
                self._on_frame(event.data)
            else:
                self._on_bad(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        fleet, cp = self.fleet, self.cp
        if self.hb_due is not None and self.hb_stats is not None:
            self.hb_stats.hb_lost += 1
        if self.queued_due is not None and self.queued_stats is not None:
            self.queued_stats.hb_lost += 1
        self.hb_due = self.queued_due = None
        if self.state != _HANDSHAKE:
            fleet.current.drops += 1
        fleet.on_down(cp, self)
        if cp.session is self:
            cp.session = None
        cp.silence_wanted = False
        cp.silenced_at = None
        if not fleet.stopping and not cp.locked_out:
            fleet.schedule_reconnect(cp)

    # --- protocol ----------------------------------------------------------------------------

    def _on_control(self, code: Control) -> None:
        if code == Control.EOT:
            self.abort()
        elif self.state == _HANDSHAKE:
            if code == Control.ACK:
                self.state = _IDLE
                self.fleet.current.connects += 1
                self._next_step()
            elif code == Control.NACK:
                self.fleet.current.refused += 1
                self.abort()
        elif self.state == _WAIT and self.attempts > 0:
            if code == Control.ACK:
                self.attempts = 0  # acknowledged; the response follows
            elif code == Control.NACK:
                if self.attempts >= MAX_ATTEMPTS:
                    self.fleet.current.errors += 1
                    self.abort()
                else:
                    self.attempts += 1
                    self._write(self.frame)

    def _on_frame(self, data: bytes) -> None:
        self._write(_ACK)
        if self.tls and not self.session_kept:
            self._keep_tls_session()
        if self.state != _WAIT:
            return  # nothing asked: ACKed and ignored
        self.state = _IDLE
        self.attempts = 0
        try:
            message = RESPONSES.parse(data)
        except WireError:
            self.fleet.current.errors += 1
            message = Error("unparsable response")
        kind, self.kind = self.kind, ""
        if kind == "HEARTBEAT":
            self._on_heartbeat_answer(message)
        elif kind == "REGISTER":
            self._on_register_answer(message)
        elif kind == "AUTH":
            self._on_auth_answer(message)

    def _keep_tls_session(self) -> None:
        """TLS 1.3 tickets arrive after the handshake: read the session once data came."""
        self.session_kept = True
        tls = self.transport.get_extra_info("ssl_object") if self.transport else None
        with contextlib.suppress(AttributeError, ValueError, OSError):
            session = tls.session if tls is not None else None
            if session is not None:
                self.cp.tls_session = session

    def _on_bad(self, event: BadFrame) -> None:
        if isinstance(event.error, FrameTooLarge):
            self.fleet.current.errors += 1
            self.abort()
        else:
            self._write(_NACK)

    def _on_heartbeat_answer(self, message: object) -> None:
        due, stats = self.hb_due, self.hb_stats
        self.hb_due = self.hb_stats = None
        if due is not None and stats is not None:
            if isinstance(message, Alive):
                latency = self.received_at - due
                stats.latency.add(latency)
                if latency <= ANSWER_LIMIT:
                    stats.hb_ok += 1
                else:
                    stats.hb_late += 1
            else:
                stats.hb_lost += 1
                stats.errors += 1
        if self.queued_due is not None and self.queued_stats is not None:
            due, stats = self.queued_due, self.queued_stats
            self.queued_due = self.queued_stats = None
            self.send_heartbeat(due, stats)

    def _on_register_answer(self, message: object) -> None:
        cp, stats = self.cp, self.fleet.current
        if isinstance(message, Registered):
            cp.credential = message.credential
            cp.registered_at = time.time()
            self.fleet.got_key(cp, message.key)
            stats.registered += 1
            self._next_step()
        elif isinstance(message, Rejected) and "already" in message.reason:
            cp.locked_out = True  # the credential was lost with a timed-out response
            stats.locked_out += 1
            self.abort()
        elif isinstance(message, Error) and cp.use_claim and "fields" in message.reason:
            # A version-1 Central refuses REGISTER's trailing claim ("REGISTER takes 4
            # fields, got 5"): retry without it. Any other ERROR (an overloaded Central's
            # "internal error") is retried as it is, claim included, like EV_CP_M does.
            cp.use_claim = False
            self.fleet.claim_supported = False
            self._next_step()
        elif isinstance(message, Error):
            stats.errors += 1
            self.abort()  # reconnect with back-off and REGISTER again with the same claim
        else:
            stats.register_rejected += 1
            self.abort()

    def _on_auth_answer(self, message: object) -> None:
        if isinstance(message, Authorized):
            self.fleet.got_key(self.cp, message.key)
            self.authenticated = True
            self.fleet.on_auth(self.cp, self)
        else:
            self.fleet.current.auth_rejected += 1
            self.abort()

    def _next_step(self) -> None:
        cp = self.cp
        if cp.credential is None:
            claim = cp.claim if cp.use_claim and self.fleet.claim_supported else ""
            request = Register(cp.cp_id, "Fleet", cp.x, cp.y, claim, cp.token if claim else "")
            self._request("REGISTER", encode_frame(request.to_bytes()))
        else:
            self._request("AUTH", encode_frame(Auth(cp.cp_id, cp.credential).to_bytes()))

    def _request(self, kind: str, frame: bytes) -> None:
        self.kind, self.frame = kind, frame
        self.state = _WAIT
        self.attempts = 1
        self.since = time.monotonic()
        self._write(frame)

    def send_heartbeat(self, due: float, stats: PhaseStats) -> None:
        self.hb_due, self.hb_stats = due, stats
        self.cp.last_hb_sent = time.time()
        self._request("HEARTBEAT", self.cp.hb_frame)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def close_politely(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(_EOT)
            self.transport.close()

    # --- the wheel -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Called once a second at this CP's phase."""
        fleet, cp = self.fleet, self.cp
        if self.closed or cp.silenced_at is not None:
            return
        if self.state != _IDLE and now - self.since > fleet.response_timeout:
            fleet.current.timeouts += 1
            self.abort()
            return
        if not self.authenticated:
            return
        if cp.silence_wanted and self.state == _IDLE:
            cp.silenced_at = cp.last_hb_sent  # from now on: socket open, not a byte sent
            fleet.silenced[cp.cp_id] = cp.last_hb_sent
            if cp.up_since is not None:  # no longer "connected and heartbeating"
                cp.intervals.append((cp.up_since, time.time()))
                cp.up_since = None
            return
        stats = fleet.stale_stats if self.stale else fleet.current
        stats.hb_due += 1
        if self.state != _IDLE:
            if self.queued_due is not None and self.queued_stats is not None:
                self.queued_stats.hb_lost += 1  # a second tick behind: that one is missed
            self.queued_due, self.queued_stats = now, stats
            return
        self.send_heartbeat(now, stats)


class MonitorFleet:
    """The monitors of one worker process on one event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        port: int | list[int],
        cps: list[tuple[str, str, float, float]],
        *,
        response_timeout: float = RESPONSE_TIMEOUT,
        connect_timeout: float = 5.0,
        backoff_cap: float = 5.0,
        seed: int = 0,
        tls_ca: str | None = None,
        report_keys: bool = False,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.loop = loop
        # one Central, or an active/standby pair (EV_CP_M's --central H:P,H:P)
        self.ports = [port] if isinstance(port, int) else list(port)
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.backoff_cap = backoff_cap
        self.random = random.Random(seed)
        self.cps = [
            Cp(cp_id, claim, x, y, self.random.randrange(SLOTS)) for cp_id, claim, x, y in cps
        ]
        self.wheel: list[list[Cp]] = [[] for _ in range(SLOTS)]
        for cp in self.cps:
            self.wheel[cp.slot].append(cp)
            cp.token = (tokens or {}).get(cp.cp_id, "")
        self.claim_supported = True
        self.ssl = client_context(Path(tls_ca)) if tls_ca else None
        self.report_keys = report_keys  # hand new CP keys to the coordinator (sealed runs)
        self.new_keys: dict[str, str] = {}
        self.tls_refused = False
        self.silenced: dict[str, float] = {}
        self.stopping = False
        self.phase = "start"
        self.stats: dict[str, PhaseStats] = {"start": PhaseStats()}
        self.current = self.stats["start"]
        self.stale_stats = PhaseStats()
        self.authenticated = 0
        self.sampling = False
        self.samples: list[tuple[int, int]] = []  # (quarter-second index, authenticated)
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick_index = 0
        self._tick_origin = loop.time()

    # --- life cycle ----------------------------------------------------------------------

    def start(self, spread: float) -> None:
        for cp in self.cps:
            cp.connecting = True
            self.loop.call_later(self.random.uniform(0.0, spread), self._connect, cp)
        self._tick_origin = self.loop.time()
        self.loop.call_soon(self._tick)

    def set_phase(self, name: str, *, stale: bool = False, sample: bool = False) -> None:
        self.phase = name
        self.current = self.stats.setdefault(name, PhaseStats())
        self.sampling = sample
        if stale:
            for cp in self.cps:
                session = cp.session
                if session is not None and session.authenticated and not session.stale:
                    session.stale = True
                    if session.counted:
                        session.counted = False
                        self.authenticated -= 1

    def stop(self) -> None:
        self.stopping = True
        for cp in self.cps:
            if cp.session is not None:
                cp.session.close_politely()
        for task in self._tasks:
            task.cancel()

    # --- connections ---------------------------------------------------------------------

    def schedule_reconnect(self, cp: Cp) -> None:
        # EV_CP_M's back-off: full jitter, ceilings 0.2, 0.4, 0.8 … 5 s; reset by a good AUTH.
        # With a pair, like EV_CP_M, the other address is tried at once; the back-off only
        # after a round of both failed.
        cp.connecting = True
        if len(self.ports) > 1:
            cp.at = (cp.at + 1) % len(self.ports)
            if cp.at != cp.round_start:
                self.loop.call_later(NEXT_CENTRAL_S, self._connect, cp)
                return
        ceiling = min(self.backoff_cap, BACKOFF_BASE * 2 ** min(cp.failures, 10))
        cp.failures += 1
        self.loop.call_later(self.random.uniform(0.0, ceiling), self._connect, cp)

    def _connect(self, cp: Cp) -> None:
        if self.stopping:
            return
        task = self.loop.create_task(self._open(cp))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, cp: Cp) -> None:
        tls: dict[str, Any] = {}
        if self.ssl is not None:
            context = (
                self.ssl if cp.tls_session is None else SessionContext(self.ssl, cp.tls_session)
            )
            tls = {"ssl": context, "server_hostname": "127.0.0.1"}
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self.loop.create_connection(
                    lambda: MonitorSession(cp, self), "127.0.0.1", self.ports[cp.at], **tls
                )
        except ssl.SSLCertVerificationError as exc:  # an OSError: counted, retried
            self.current.connect_failures += 1
            if not self.tls_refused:
                self.tls_refused = True
                log.warning("Central's certificate is not trusted: %s", exc)
            if not self.stopping:
                self.schedule_reconnect(cp)
        except (OSError, TimeoutError):
            self.current.connect_failures += 1
            if not self.stopping:
                self.schedule_reconnect(cp)

    def on_auth(self, cp: Cp, session: MonitorSession) -> None:
        now = time.time()
        session.counted = True
        self.authenticated += 1
        cp.up_since = now
        cp.failures = 0
        cp.round_start = cp.at
        self.current.auth_ok += 1
        if cp.auth_phase != self.phase:
            cp.auth_phase = self.phase
            self.current.auth_times.append(now)

    def got_key(self, cp: Cp, key: str) -> None:
        if key and key != cp.key:
            cp.key = key
            if self.report_keys:
                self.new_keys[cp.cp_id] = key

    def on_down(self, cp: Cp, session: MonitorSession) -> None:
        if session.counted:
            session.counted = False
            self.authenticated -= 1
        if session.authenticated and cp.up_since is not None:
            cp.intervals.append((cp.up_since, time.time()))
            cp.up_since = None

    # --- the heartbeat wheel ---------------------------------------------------------------

    def _tick(self) -> None:
        if self.stopping:
            return
        now = self.loop.time()
        while self._tick_origin + self._tick_index * 0.01 <= now:
            # one sample per 10 ms slot: a stall of the loop counts for the time it lasted
            self.current.tick_lag.add(now - (self._tick_origin + self._tick_index * 0.01))
            mono = time.monotonic()
            for cp in self.wheel[self._tick_index % SLOTS]:
                if cp.session is not None:
                    cp.session.tick(mono)
            if self.sampling and self._tick_index % 25 == 0:
                self.samples.append((int(time.time() * 4), self.authenticated))
            self._tick_index += 1
        self.loop.call_at(self._tick_origin + self._tick_index * 0.01, self._tick)

    # --- reports -------------------------------------------------------------------------

    def _count_overdue(self) -> None:
        now = time.monotonic()
        for stats in [*self.stats.values(), self.stale_stats]:
            stats.hb_overdue = 0
        for cp in self.cps:
            s = cp.session
            if (
                s is not None
                and s.hb_due is not None
                and s.hb_stats is not None
                and now - s.hb_due > ANSWER_LIMIT
            ):
                s.hb_stats.hb_overdue += 1

    def snapshot(self) -> dict[str, object]:
        """The live figures, and the current phase's stats (the coordinator keeps the last
        ones of every phase: what it reports if this process dies before ``collect``)."""
        self._count_overdue()
        registered_at = [cp.registered_at for cp in self.cps if cp.registered_at is not None]
        keys, self.new_keys = self.new_keys, {}
        return {
            "phase": self.phase,
            "authenticated": self.authenticated,
            "registered": len(registered_at),
            "last_registered_at": max(registered_at, default=None),
            "locked_out": sum(1 for cp in self.cps if cp.locked_out),
            "stats": self.current,
            "keys": keys,
        }

    def silence(self, count: int) -> list[str]:
        chosen = [
            cp
            for cp in self.cps
            if cp.session is not None and cp.session.authenticated and not cp.session.stale
        ][:count]
        for cp in chosen:
            cp.silence_wanted = True
        return [cp.cp_id for cp in chosen]

    def collect(self) -> dict[str, object]:
        self._count_overdue()
        now = time.time()
        intervals = {}
        for cp in self.cps:
            spans = list(cp.intervals)
            if cp.up_since is not None:
                spans.append((cp.up_since, now))
            intervals[cp.cp_id] = spans
        return {
            "stats": self.stats,
            "stale": self.stale_stats,
            "samples": self.samples,
            "intervals": intervals,
            "silenced": dict(self.silenced),
            "registered_at": [cp.registered_at for cp in self.cps if cp.registered_at],
            "claim_supported": self.claim_supported,
        }
