"""The monitor desk: what REGISTER, AUTH, HEARTBEAT, FAULT, RECOVERED and a lost link do.

Plain methods over the hub, run on the core's owner thread, which also runs the TCP server:
AUTH (a hash check against the ledger's memory), HEARTBEAT, FAULT and RECOVERED are answered
synchronously in microseconds, with no thread hop, so 10,000 monitors at 1 Hz and a restart
storm of AUTHs cost little. Only REGISTER needs the database (a new CP, a credential): it
returns an awaitable that the TCP server runs as a task while other monitors are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from central_app.cp_state import CpMachine, Transition
from central_app.hub import Hub
from central_app.pricing import DEFAULT_PRICE
from central_app.store import CP_ID, CpRecord, RegistryError
from central_app.supplies import SupplyDesk
from central_app.views import LogLevel
from wire.tcp_messages import (
    AdminState,
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Recovered,
    Register,
    Registered,
    Rejected,
    Response,
)

log = logging.getLogger(__name__)


def machine_from(record: CpRecord) -> CpMachine:
    return CpMachine(
        cp_id=record.cp_id,
        location=record.location,
        x=record.x,
        y=record.y,
        price=record.price,
        rated_kw=record.rated_kw,
        admin=AdminState(record.admin_state)
        if record.admin_state in AdminState.__members__
        else AdminState.ACTIVE,
    )


class MonitorDesk:
    def __init__(
        self,
        hub: Hub,
        desk: SupplyDesk,
        *,
        default_price: float = DEFAULT_PRICE,
        heartbeat_timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.desk = desk
        self.default_price = default_price
        self.heartbeat_timeout = heartbeat_timeout
        self.clock = clock
        # one handler per request type: those anyone may send, and those of an AUTHed CP
        self._anyone: dict[type, Callable[[Any, Any], Response | Awaitable[Response]]] = {
            Register: self.register,
            Auth: self.authenticate,
        }
        self._authenticated: dict[type, Callable[[Any, Any], Response]] = {
            Heartbeat: self.heartbeat,
            Fault: self.fault,
            Recovered: self.recovered,
        }

    # --- requests -------------------------------------------------------------------------

    def handle(self, conn: Any, request: Any) -> Response | Awaitable[Response]:
        kind = type(request)
        handler = self._anyone.get(kind)
        if handler is not None:
            return handler(conn, request)
        if conn.cp_id is None:
            return Error("authenticate first (AUTH)")
        if getattr(request, "cp_id", None) != conn.cp_id:
            return Error(f"this connection is authenticated as {conn.cp_id}")
        handler = self._authenticated.get(kind)
        if handler is None:
            return Error("unsupported request")
        return handler(conn, request)

    def register(self, conn: Any, msg: Register) -> Response | Awaitable[Response]:
        if not CP_ID.match(msg.cp_id):
            return Rejected(msg.cp_id[:64] or "?", "invalid cp id")
        written = self.hub.ledger.register(
            msg.cp_id,
            msg.location,
            msg.x,
            msg.y,
            claim=msg.claim,
            default_price=self.default_price,
            who=f"monitor {conn.peer}",
            token=msg.token,
        )
        if written.done():
            return self.registered(conn, msg, written)
        # Memory takes the result as soon as the database has it, even if this REGISTER's
        # handler timed out meanwhile (the row exists: a retry with the claim must find it).
        self.hub.after(written, lambda done: self._apply_registration(conn, done))
        return self._register_later(conn, msg, written)

    async def _register_later(self, conn: Any, msg: Register, written: Future) -> Response:
        # shield: a handler time-out must not cancel the database job of the whole batch
        with contextlib.suppress(Exception):  # registered() turns it into the answer
            await asyncio.shield(asyncio.wrap_future(written))
        return self.registered(conn, msg, written)

    def registered(self, conn: Any, msg: Register, written: Future) -> Response:
        """The database decided the REGISTER: apply it to memory (once) and answer."""
        exc = written.exception()
        if isinstance(exc, RegistryError):
            self.hub.tell(
                "REGISTER rejected",
                f"REGISTER from {conn.peer} rejected: {exc}",
                LogLevel.WARNING,
                msg.cp_id,
            )
            return Rejected(msg.cp_id, str(exc))
        if exc is not None:
            raise exc
        credential, record = written.result()
        self._apply_registration(conn, written)
        return Registered(record.cp_id, credential, record.price, key=record.seal_key or "")

    def _apply_registration(self, conn: Any, written: Future) -> None:
        if getattr(written, "applied", False) or written.exception() is not None:
            return
        written.applied = True  # type: ignore[attr-defined]
        _, record = written.result()
        self.hub.ledger.registered(record)
        cp = self.hub.cps.get(record.cp_id)
        if cp is None:
            cp = machine_from(record)
            self.hub.cps[cp.cp_id] = cp
        else:
            cp.location, cp.x, cp.y, cp.price = record.location, record.x, record.y, record.price
        self.hub.tell(
            "CPs registered", f"registered from {conn.peer} at {record.location!r}", source=cp.cp_id
        )
        self.hub.cp_changed(cp)

    def authenticate(self, conn: Any, msg: Auth) -> Response:
        hub = self.hub
        try:
            hub.ledger.authenticate(msg.cp_id, msg.credential)
        except RegistryError as exc:
            hub.tell(
                "AUTH rejected",
                f"AUTH from {conn.peer} rejected: {exc}",
                LogLevel.WARNING,
                msg.cp_id[:64],
            )
            hub.ledger.audit(f"monitor {conn.peer}", "auth_rejected", f"{msg.cp_id[:64]}: {exc}")
            return Rejected(msg.cp_id, str(exc))
        if conn.closed:
            return Error("connection closed")
        cp = hub.cps.get(msg.cp_id)
        if cp is None:
            return Rejected(msg.cp_id, "unknown cp")
        if conn.cp_id is not None and conn.cp_id != msg.cp_id:
            self._lost(conn.cp_id, conn, "re-authenticated as another CP")
        old = hub.connections.get(msg.cp_id)
        if old is not None and old is not conn:
            hub.tell(
                "connections replaced by a new AUTH",
                f"new AUTH from {conn.peer} replaces the connection from {old.peer}",
                source=msg.cp_id,
            )
            hub.close_connection(old)
        hub.connections[msg.cp_id] = conn
        conn.cp_id = msg.cp_id
        was_up = cp.monitor_up
        self._apply(cp, cp.authenticate(), force=not was_up)
        if not was_up:
            hub.tell(
                "monitors authenticated", f"monitor authenticated from {conn.peer}", source=cp.cp_id
            )
        # The CP's key in every AUTHORIZED (after a rotation too); a CP registered before keys
        # existed gets one now.
        key = hub.ledger.cp_key(cp.cp_id) or hub.ledger.issue_cp_key(cp.cp_id)
        return Authorized(cp.cp_id, cp.price, cp.admin, key=key)

    def heartbeat(self, conn: Any, msg: Heartbeat) -> Response:
        cp = self._own(conn)
        if cp is None:
            return Error("connection replaced by a newer AUTH")
        before = cp.engine
        if before is msg.engine and cp.monitor_up:
            return Alive(cp.cp_id, cp.admin)  # the common case: nothing changes
        transition = cp.heartbeat(msg.engine)
        if before is not None and before != msg.engine:
            level = LogLevel.INFO if msg.engine is EngineHealth.OK else LogLevel.WARNING
            self.hub.tell(
                f"engines {msg.engine.value}",
                f"engine {msg.engine.value} (heartbeat)",
                level,
                cp.cp_id,
            )
        # The engine column changes even when the CP's status does not (first OK heartbeat).
        self._apply(cp, transition, force=before != msg.engine)
        return Alive(cp.cp_id, cp.admin)

    def fault(self, conn: Any, msg: Fault) -> Response:
        cp = self._own(conn)
        if cp is None:
            return Error("connection replaced by a newer AUTH")
        self.hub.tell("FAULTs", f"FAULT: {msg.reason}", LogLevel.ERROR, cp.cp_id)
        self._apply(cp, cp.fault(msg.reason))
        return Noted(cp.cp_id, "FAULT")

    def recovered(self, conn: Any, msg: Recovered) -> Response:
        cp = self._own(conn)
        if cp is None:
            return Error("connection replaced by a newer AUTH")
        self.hub.tell("RECOVERED", "RECOVERED", source=cp.cp_id)
        self._apply(cp, cp.recovered())
        return Noted(cp.cp_id, "RECOVERED")

    # --- revocation (docs/security.md) ----------------------------------------------------

    def revoke(self, cp_id: str, who: str = "operator") -> None:
        """Delete the CP's credential, key and claim, close its live connection and end its
        session as for a lost monitor; AUTH is refused until it registers again."""
        hub = self.hub
        if cp_id not in hub.cps:
            raise RegistryError(f"no charging point {cp_id}")
        hub.ledger.revoke(cp_id, who)  # the row and its key_revoked audit entry behind
        self.drop(cp_id, "key revoked")
        hub.say(
            f"credential and key revoked by {who}; the CP is refused until it registers again",
            LogLevel.WARNING,
            cp_id,
        )

    def drop(self, cp_id: str, why: str) -> bool:
        """Close the CP's live connection and treat the monitor as lost (revoked or rotated
        key: the monitor must AUTH or REGISTER again). False when it had none."""
        conn = self.hub.connections.get(cp_id)
        if conn is None:
            return False
        self._lost(cp_id, conn, why)
        self.hub.close_connection(conn)
        return True

    # --- losing monitors ------------------------------------------------------------------

    def connection_closed(self, conn: Any) -> None:
        if conn.cp_id is None:
            return
        self._lost(conn.cp_id, conn, "connection closed")

    def watchdog(self, now: float) -> None:
        """DISCONNECTED when no valid frame arrived for ``heartbeat_timeout`` (open or not)."""
        limit = now - self.heartbeat_timeout
        for cp_id, conn in self.hub.connections.items():
            if conn.last_valid_frame >= limit:
                continue
            cp = self.hub.cps.get(cp_id)
            if cp is not None and cp.monitor_up:
                self._apply(cp, cp.link_lost())
                self.hub.tell(
                    "CPs DISCONNECTED (no heartbeat)",
                    f"no heartbeat for {self.heartbeat_timeout:.0f} s: DISCONNECTED",
                    LogLevel.WARNING,
                    cp_id,
                )

    def excuse(self, seconds: float, now: float) -> None:
        """Central itself stood still for ``seconds`` (``central_app.watchdog``): that time is
        not the monitors' silence. Every last-heard moves forward by it, never past ``now``."""
        for conn in self.hub.connections.values():
            conn.last_valid_frame = min(conn.last_valid_frame + seconds, now)

    def _lost(self, cp_id: str, conn: Any, why: str) -> None:
        if self.hub.connections.get(cp_id) is not conn:
            return  # an older, replaced connection
        del self.hub.connections[cp_id]
        cp = self.hub.cps.get(cp_id)
        if cp is not None and cp.monitor_up:
            self._apply(cp, cp.link_lost())
            self.hub.tell(
                "monitors lost", f"monitor lost ({why}): DISCONNECTED", LogLevel.WARNING, cp_id
            )

    # --- helpers --------------------------------------------------------------------------

    def _own(self, conn: Any) -> CpMachine | None:
        if self.hub.connections.get(conn.cp_id) is not conn:
            return None
        return self.hub.cps.get(conn.cp_id)

    def _apply(self, cp: CpMachine, transition: Transition, *, force: bool = False) -> None:
        self.desk.apply(cp, transition)
        if transition.changed or transition.effects or force:
            self.hub.cp_changed(cp)
