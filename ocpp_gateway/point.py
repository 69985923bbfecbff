"""One charge point known to the gateway, across its WebSocket connections: the glue between
its ``Station`` (decisions), its ``CentralMonitor`` (the monitor's session), the gateway's
``KafkaSide`` (the engine's events and commands) and its current ``GatewayChargePoint``.
A charge point is one connector of a charger (``connector``); the charger's connection
reaches it through ``ocpp_gateway.connectors.ChargerPoints``, which holds the points of all
its connectors.

Everything here runs on the event loop. OCPP calls towards the charger (RemoteStart…,
ChangeAvailability) run as tasks of their own: an ``@on`` handler that awaited one would wait
for an answer its own connection cannot route until the handler returns.

A point knows its gateway and its charger's connection only as the protocols ``Host`` and
``Charger`` (what it uses of them), so ``point`` imports neither ``gateway`` nor
``charge_point``: both import it. The charger's connection speaks OCPP 1.6J or 2.0.1; it
turns the station's version-free calls (``RemoteStart``…) into its version's payloads
(``Charger.payload``), so everything here serves both.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cp_core.credentials import CredentialStore
from cp_core.enrollment import TokenFolder
from ocpp_gateway import mapping
from ocpp_gateway.central_monitor import CentralMonitor
from ocpp_gateway.kafka_side import KafkaSide
from ocpp_gateway.station import (
    CONNECTOR,
    Call,
    Outcome,
    RemoteStart,
    RemoteStop,
    Station,
)
from ocpp_gateway.transactions import TransactionBook, TransactionIds
from wire.kafka.messages import Authorize, ChargeRequest, Event, Resume, Stop, SupplyEnded
from wire.kafka.sealed import key_bytes
from wire.kafka.topics import Topics
from wire.tcp_messages import AdminState
from wire.timefmt import parse_ts, utc_now

log = logging.getLogger(__name__)

BOOT_WAIT = 5.0  # s BootNotification waits for Central's answer before saying Pending
AUTHORIZE_WAIT = 8.0  # s an Authorize.req waits for Central to authorize the idTag here
STALE_COMMAND = timedelta(seconds=10)  # older stop/resume: the heartbeat's admin state rules


class Host(Protocol):
    """What a point uses of the gateway that holds it (``ocpp_gateway.gateway.Gateway``)."""

    central: tuple[str, int] | list[tuple[str, int]]
    topics: Topics
    state_dir: Path
    ids: TransactionIds
    credentials: CredentialStore
    tokens: TokenFolder | None
    heartbeat_interval: float  # s (the charge point's ``@on`` handlers tell the charger)
    auto_register: bool
    tls: ssl.SSLContext | None
    kafka: KafkaSide
    local_list: Path | None  # the drivers' ids for the chargers' lists (None: none sent)

    def say(self, text: str) -> None: ...

    def count_call(self, direction: str, action: str, result: str) -> None: ...


class Charger(Protocol):
    """What a point uses of its charger's connection (``GatewayChargePoint``)."""

    version: str  # "1.6" or "2.0.1"

    def call(self, payload: Any, suppress: bool = True) -> Awaitable[Any]: ...

    def payload(self, request: Call, connector: int = CONNECTOR) -> Any:
        """The OCPP call of this connection's version for one of the station's calls, for
        that connector (1.6 connectorId, 2.0.1 evseId)."""
        ...

    def close(self, reason: str) -> Awaitable[None]: ...


class Point:
    def __init__(self, gateway: Host, cp_id: str, connector: int = CONNECTOR) -> None:
        self.gateway = gateway
        self.cp_id = cp_id
        self.connector = connector  # its number on the charger (1.6 connectorId, 2.0.1 evseId)
        self.station = Station(cp_id, TransactionBook(gateway.state_dir, cp_id, gateway.ids))
        self.link: CentralMonitor | None = None
        self.cp: Charger | None = None
        self.authenticated = False  # this connection presented the CP's password
        self.connected_at: datetime | None = None  # this connection's; older starts were queued
        self.vendor = ""
        # the last refusal said by a link: a refused charger boots again every interval, and
        # each boot's new link says it only if it changed
        self.problem = ""
        self._waiting: dict[str, asyncio.Future[bool]] = {}  # Authorize.req by idTag
        self._tasks: set[asyncio.Task[Any]] = set()

    def say(self, text: str) -> None:
        self.gateway.say(f"[{self.cp_id}] {text}")

    # --- the WebSocket -----------------------------------------------------------------------

    def attach(self, cp: Charger, authenticated: bool) -> None:
        """A new connection: it replaces an older one (which ``ChargerPoints`` closes). A
        provisioned charge point (password checked) is the monitor's again at once: a charger
        that reconnects after an outage sends no BootNotification, only its queued messages
        (OCPP 1.6 §3.7)."""
        self.cp = cp
        self.authenticated = authenticated
        self.connected_at = utc_now()
        known = self.gateway.credentials.load(self.cp_id) is not None
        if self.link is None and known and (authenticated or self.gateway.auto_register):
            self._start_link()

    async def detach(self, cp: Charger, why: str) -> None:
        """The connection ended (closed, killed, or silent too long): stop heartbeating, so
        Central turns the CP DISCONNECTED. A running transaction stays open: the charger
        goes on charging and replays StopTransaction when it is back."""
        if cp is not self.cp:
            return
        self.cp = None
        self.say(f"WebSocket gone ({why}); stopped heartbeating to Central")
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_result(False)
        if self.link is not None:
            link, self.link = self.link, None
            await link.close()

    def _start_link(self, location: str = "") -> None:
        self.link = CentralMonitor(
            self.cp_id,
            central=self.gateway.central,
            credentials=self.gateway.credentials,
            may_register=self.authenticated or self.gateway.auto_register,
            location=location,
            tls=self.gateway.tls,
            on_authorized=self._authorized,
            on_admin=self._admin,
            say=self.say,
            tokens=self.gateway.tokens,
            problem=self.problem,
        )
        self.link.report(self.station.health.health, self.station.health.reason)
        self.link.start()

    def keep_trying(self) -> None:
        """Central refused this CP at a boot that it accepted for the charger's other
        connectors: the charger will not boot again, so this CP's link goes on asking by
        itself (every few seconds; it reads the CP's enrollment token file before each
        REGISTER, so a token dropped there later lets it in)."""
        if self.link is None and self.cp is not None:
            self._start_link("" if self.authenticated else f"OCPP {self.vendor}")

    # --- what the charger says ---------------------------------------------------------------

    async def boot(self, vendor: str, model: str) -> str:
        """BootNotification: Accepted once Central authenticated the CP (registering it first
        if needed), Rejected for an unknown id (unless --auto-register) or a refusal,
        Pending while Central does not answer (the charger boots again after the interval)."""
        self.vendor = f"{vendor} {model}".strip()
        if not (self.authenticated or self.gateway.auto_register):
            self.say("BootNotification refused: unknown charge point (no password provisioned)")
            return "Rejected"
        link = self.link
        if link is not None and link.up:
            return "Accepted"
        if link is None or link.outcome.done():  # none yet, or one that was refused or lost
            if link is not None:
                await link.close()
            self._start_link("" if self.authenticated else f"OCPP {self.vendor}")
            link = self.link
        assert link is not None
        try:
            async with asyncio.timeout(BOOT_WAIT):
                result = await asyncio.shield(link.outcome)
        except TimeoutError:
            return "Pending"
        if result == "accepted":
            return "Accepted"
        if link.problem != self.problem:  # the link said why; say the answer once too
            self.say("BootNotification answered Rejected")
        self.problem = link.problem
        if self.link is link:  # no retrying behind the charger's back: it boots again
            self.link = None
            await link.close()
        return "Rejected"

    def status(self, connector_id: int, status: str, error_code: str, info: str | None) -> None:
        """This connector's status, or (connector 0) the charger's as a whole."""
        before = self.station.health
        whole = connector_id == 0
        self._apply(self.station.on_status(status, error_code, info, whole_charger=whole))
        health = self.station.health
        if health != before:
            what = "charger status (connector 0)" if whole else "status"
            self.say(f"{what} {status}: {health.health} {health.reason}".rstrip())
        if self.link is not None:
            self.link.report(health.health, health.reason)

    async def authorize(self, id_tag: str) -> bool:
        """Authorize.req: the idTag is a driver id. Accepted when Central authorized that
        driver here; else ask Central (charge_request, origin ``cp``) and wait for it."""
        known = self.station.check_id_tag(id_tag)
        if known is not None:
            return known
        if self.link is None or not self.link.up:
            return False
        request = ChargeRequest(
            request_id=f"cp-{uuid.uuid4().hex[:12]}",  # as EV_CP_E's manual requests
            driver_id=id_tag,
            cp_id=self.cp_id,
            origin="cp",
        )
        waiter = self._waiting[id_tag] = asyncio.get_running_loop().create_future()
        self.gateway.kafka.publish(self.cp_id, request, topic=self.gateway.topics.requests)
        try:
            async with asyncio.timeout(AUTHORIZE_WAIT):
                return await waiter
        except TimeoutError:
            return False  # denied (Central tells only the driver why) or no answer
        finally:
            self._waiting.pop(id_tag, None)

    def _alone(self, timestamp: str | None, flagged: bool = False) -> bool:
        """Did the charger start this transaction on its own (``mapping.started_alone``)?"""
        central_up = self.link is not None and self.link.up
        return mapping.started_alone(timestamp, self.connected_at, central_up, flagged)

    def start(self, id_tag: str, meter_start: int, timestamp: str) -> tuple[int, bool]:
        transaction_id, accepted, out = self.station.on_start(
            id_tag, meter_start, timestamp, offline=self._alone(timestamp)
        )
        self._apply(out)
        tx = self.station.book.open.get(transaction_id)
        if tx is not None and tx.offline:
            self._said_alone(transaction_id, id_tag, f"{meter_start} Wh")
        elif accepted:
            self.say(f"transaction {transaction_id} started for {id_tag} at {meter_start} Wh")
        else:
            self.say(f"StartTransaction for {id_tag} refused: not authorized by Central")
        return transaction_id, accepted

    def transaction_event(self, ev: mapping.TxEvent) -> bool | None:
        """A 2.0.1 TransactionEvent; the verdict on its idToken (None: it carries none)."""
        known = self.station.book.by_charger(ev.charger_tx)
        if known is None:
            ev = replace(ev, offline=self._alone(ev.timestamp, ev.offline))
        verdict, out = self.station.on_transaction_event(ev, time.monotonic())
        tx = self.station.book.by_charger(ev.charger_tx)
        if known is None and tx is not None:
            start = f"{tx.meter_start:g} Wh" if tx.metered else "no reading yet"
            if tx.offline:
                self._said_alone(ev.charger_tx, tx.driver_id, start)
            else:
                self.say(f"transaction {ev.charger_tx} started for {tx.driver_id} at {start}")
        elif known is None and verdict is False:
            self.say(f"transaction {ev.charger_tx} for {ev.id_tag} refused: not authorized")
        if known is not None and tx is None:
            final = ev.wh if ev.wh is not None else known.meter_last
            self.say(f"transaction {ev.charger_tx} ended at {final:g} Wh ({ev.reason or 'Local'})")
        self._apply(out)
        return verdict

    def _said_alone(self, transaction: object, id_tag: str, start: str) -> None:
        self.say(
            f"transaction {transaction} started by the charger alone for {id_tag} at {start} "
            "(an id it authorized itself, offline): Central bills it when it ends"
        )

    def meter(self, transaction_id: int | None, meter_value: list[dict[str, Any]]) -> None:
        wh, kw = mapping.register_wh(meter_value), mapping.power_kw(meter_value)
        self._apply(self.station.on_meter(transaction_id, wh, kw, time.monotonic()))

    def stop(
        self, transaction_id: int, meter_stop: int, timestamp: str, reason: str | None
    ) -> None:
        out = self.station.on_stop(transaction_id, meter_stop, timestamp, reason)
        if out.events:
            self.say(
                f"transaction {transaction_id} stopped at {meter_stop} Wh ({reason or 'Local'})"
            )
        self._apply(out)

    # --- what Central says -------------------------------------------------------------------

    def _authorized(self, price: float, admin_state: AdminState, key: str) -> None:
        self.problem = ""
        self.station.price = price
        self.gateway.kafka.watch(self.cp_id, key_bytes(key) if key else None)
        self._admin(admin_state)

    def _admin(self, state: AdminState) -> None:
        self._apply(self.station.on_admin(state))

    def command(self, event: Event) -> None:
        """A command from Central (already opened and checked by the Kafka side)."""
        if isinstance(event, Authorize):
            if parse_ts(event.expires_at) <= utc_now():
                return  # read late (e.g. history at first start): Central expired it already
            waiter = self._waiting.get(event.driver_id)
            out = self.station.on_authorize(event)
            if waiter is not None and not waiter.done():
                out.calls = [c for c in out.calls if not isinstance(c, RemoteStart)]
                reserved = self.station.check_id_tag(event.driver_id) is True
                if reserved:
                    self.say(
                        f"reserved for {event.driver_id}'s card until {event.expires_at} "
                        "(Authorize at the charger)"
                    )
                waiter.set_result(reserved)
            self._apply(out)
        elif isinstance(event, Stop | Resume):
            if utc_now() - parse_ts(event.ts) > STALE_COMMAND:
                return
            self._admin(AdminState.STOPPED if isinstance(event, Stop) else AdminState.ACTIVE)

    def tick(self) -> None:
        out = self.station.tick()
        for event in out.events:
            if isinstance(event, SupplyEnded):  # only a transaction the charger lost ends here
                self.say(
                    f"the charger no longer has the transaction of {event.driver_id}: ended "
                    f"with its last reading, {event.kwh:.3f} kWh"
                )
        self._apply(out)

    # --- doing it ----------------------------------------------------------------------------

    def _apply(self, out: Outcome) -> None:
        for event in out.events:
            self.gateway.kafka.publish(self.cp_id, event)
        if out.calls:
            self._spawn(self._calls(out.calls))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _calls(self, requests: list[Call]) -> None:
        """One decision's calls, in its order (a Stop's RemoteStopTransaction before its
        ChangeAvailability): a task per call raced, since the ``ocpp`` library validates a
        call's payload off the loop before it takes its send lock."""
        for request in requests:
            await self._call(request)

    async def _call(self, request: Call) -> None:
        cp = self.cp
        if cp is None:
            if isinstance(request, RemoteStart):
                self._refused_start("charging point not connected")
            return
        payload = cp.payload(request, self.connector)
        action = type(payload).__name__  # RemoteStartTransaction, RequestStartTransaction…
        try:
            answer = await self.ask(cp, payload)
        except Exception as exc:  # a timeout or a closed connection: the charger is gone
            log.warning("%s: %s failed: %s", self.cp_id, action, exc)
            if isinstance(request, RemoteStart):
                self._refused_start("charging point did not answer the remote start")
            return
        status = getattr(answer, "status", None)
        said = str(getattr(status, "value", status or "no answer"))
        if isinstance(request, RemoteStart):
            ok = said == "Accepted"
            self.say(f"{action} for {request.id_tag}: {'Accepted' if ok else 'Rejected'}")
            if not ok:
                self._refused_start("charging point refused the remote start")
        elif isinstance(request, RemoteStop):
            self.say(f"{action} {request.charger_tx or request.transaction_id}: {said}")
        else:
            kind = "Operative" if request.operative else "Inoperative"
            self.say(f"ChangeAvailability {kind}: {said}")

    async def ask(self, cp: Charger, payload: Any, suppress: bool = True) -> Any:
        """``cp.call``, counted for the metrics by action and result (the answer's status,
        ``ok``, or ``no_answer``: a CALLERROR, a timeout, a closed connection). A CALLERROR
        answers None, or with ``suppress`` False raises the library's OCPPError."""
        action = type(payload).__name__  # call.RemoteStartTransaction: "RemoteStartTransaction"
        try:
            answer = await (cp.call(payload) if suppress else cp.call(payload, suppress=False))
        except Exception:
            self.gateway.count_call("sent", action, "no_answer")
            raise
        status = getattr(answer, "status", None)
        result = "no_answer" if answer is None else str(getattr(status, "value", status or "ok"))
        self.gateway.count_call("sent", action, result)
        return answer

    def _refused_start(self, why: str) -> None:
        pending = self.station.pending
        if pending is not None:
            self._apply(self.station.remote_start_refused(pending.command.session_id, why))
