"""The supply desk: charge requests in, authorizations out, CP transitions, time.

Engine events go to its :class:`~central_app.engine_events.EngineEvents`; how a session ends
(denied, interrupted, ticketed) is :class:`~central_app.session_ends.SessionEnds`, shared by
both.

Runs on the core's owner thread. Order of work for every input: decide (in memory), hand the
write to the ledger, and send what must follow a durable row (``authorize``, a ticket) only
once the write is done (``Hub.after``), so a crash never leaves an authorization on the wire
that the database does not know, and the core never waits for the database meanwhile.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from central_app.authorization import (
    AuthorizationPolicy,
    Decision,
    authorization_overdue,
    decide,
)
from central_app.billing import Billing
from central_app.counts import AUTHORIZED
from central_app.cp_state import (
    AuthorizationCancelled,
    CpMachine,
    CpSession,
    Effect,
    SessionPhase,
    SupplyInterrupted,
    Transition,
)
from central_app.energy_check import EnergyCheck
from central_app.engine_events import EngineEvents, ForeignSession
from central_app.hub import Hub
from central_app.session_ends import SessionEnds
from central_app.session_notes import FINAL_KEPT
from central_app.store import OpenSession
from central_app.views import LogLevel, RequestPhase
from wire.kafka.messages import (
    Authorize,
    AuthorizedNotice,
    ChargeRequest,
    Denied,
    Event,
    RequestReceived,
)
from wire.kafka.sealed import driver_kid
from wire.reasons import (
    DenyReason,
    EndReason,
    deny_text,
    describe_reason,
    reason_code,
)
from wire.states import Origin
from wire.timefmt import format_ts, now_ts, utc_now

log = logging.getLogger(__name__)


class SupplyDesk:
    def __init__(
        self,
        hub: Hub,
        *,
        policy: AuthorizationPolicy,
        billing: Billing,
        expiry_grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        energy: EnergyCheck | None = None,
    ) -> None:
        if policy.max_request_age + policy.max_clock_skew >= FINAL_KEPT:
            # a redelivered request is known to memory only that long (session_notes)
            raise ValueError("requests may not be valid longer than ended sessions are kept")
        self.hub = hub
        self.policy = policy
        self.billing = billing
        self.expiry_grace = expiry_grace
        self.clock = clock
        self.ends = SessionEnds(hub, billing)
        self.engine_events = EngineEvents(hub, billing, self.ends, clock, energy)

    def cp_event(
        self, event: Event, refused: Callable[[ForeignSession], None] | None = None
    ) -> None:
        """What an engine reported on ``evc.cp.events`` (see ``central_app.engine_events``)."""
        self.engine_events.cp_event(event, refused)

    def settled(self) -> Future[None]:
        """Done once the events waiting for the database (``SessionRecall``) were handled."""
        return self.engine_events.recall.settled()

    # --- restart --------------------------------------------------------------------------

    def restore(self, sessions: Iterable[OpenSession]) -> None:
        now = self.clock()
        for row in sessions:
            cp = self.hub.cps.get(row.cp_id)
            if cp is None:
                log.warning("open session %s on unknown CP %s", row.session_id, row.cp_id)
                continue
            session = CpSession(
                session_id=row.session_id,
                driver_id=row.driver_id,
                price=row.price if row.price is not None else cp.price,
                expires_at=row.expires_at or now_ts(),
                request_id=row.request_id,
                origin=row.origin,
                authorized_at=row.authorized_at or "",
                phase=SessionPhase.SUPPLYING
                if row.status == "supplying"
                else SessionPhase.AUTHORIZED,
                started_at=row.started_at,
                last_event=now,
            )
            cp.restore(session)
            self.hub.note_session(cp)
            self.hub.request_update(
                row.request_id,
                phase=RequestPhase.SUPPLYING
                if session.phase is SessionPhase.SUPPLYING
                else RequestPhase.AUTHORIZED,
                detail="restored after restart",
                session_id=row.session_id,
                driver_id=row.driver_id,
                cp_id=row.cp_id,
                origin=row.origin,
            )
            self.hub.say(
                f"session {row.session_id} ({row.driver_id}) restored as {row.status}",
                source=row.cp_id,
            )

    # --- charge requests ------------------------------------------------------------------

    def charge_request(self, req: ChargeRequest) -> None:
        hub = self.hub
        received = self.clock()
        # An authorized request is remembered for minutes; once it is older, ``decide``
        # denies it as expired (its timestamp travels with it): never authorized twice.
        if hub.ledger.request_seen(req.request_id):
            log.info("request %s already authorized; redelivery ignored", req.request_id)
            return
        source = f"driver {req.driver_id}"
        hub.notify_driver(
            req.driver_id,
            RequestReceived(
                request_id=req.request_id,
                cp_id=req.cp_id,
                driver_id=req.driver_id,
                origin=Origin(req.origin),
            ),
        )
        hub.request_update(
            req.request_id,
            phase=RequestPhase.RECEIVED,
            driver_id=req.driver_id,
            cp_id=req.cp_id,
            origin=req.origin,
        )
        now = utc_now()
        cp = hub.cps.get(req.cp_id)
        decision = decide(
            req,
            now=now,
            driver_known=hub.ledger.driver_exists(req.driver_id),
            cp=cp,
            driver_busy=hub.driver_busy(req.driver_id),
            policy=self.policy,
        )
        if (
            decision.allowed
            and hub.sealed
            and hub.ledger.key_for(driver_kid(req.driver_id)) is None
        ):
            # e.g. a manual supply at a CP for a driver with no key yet: nothing could be
            # sealed for that driver (docs/security.md)
            decision = Decision(False, DenyReason.UNKNOWN_DRIVER, "no key issued")
        if not decision.allowed:
            reason = decision.wire_reason
            self._deny(req, reason)
            hub.say(
                f"request {req.request_id[:8]} for {req.cp_id} denied: {describe_reason(reason)}",
                LogLevel.WARNING,
                source,
            )
            return
        assert cp is not None
        session = CpSession(
            session_id=uuid.uuid4().hex,
            driver_id=req.driver_id,
            price=cp.price,
            expires_at=self.policy.expires_at(now),
            request_id=req.request_id,
            origin=req.origin,
            authorized_at=format_ts(now),
            last_event=self.clock(),
        )
        written = hub.ledger.create_session(
            cp_id=cp.cp_id,
            session_id=session.session_id,
            request_id=req.request_id,
            driver_id=req.driver_id,
            origin=req.origin,
            price=session.price,
            authorized_at=session.authorized_at,
            expires_at=session.expires_at,
        )
        cp.authorize(session)
        hub.note_session(cp)
        hub.cp_changed(cp)
        hub.after(written, lambda done: self._authorized(cp, session, req, done, received))

    def _deny(self, req: ChargeRequest, reason: str, detail: str | None = None) -> None:
        """A refused request: counted, the driver told why, and shown as denied (as expired
        when that is the reason) with ``detail``, by default the reason in words."""
        hub = self.hub
        hub.counts.request(reason)
        hub.notify_driver(
            req.driver_id,
            Denied(
                request_id=req.request_id,
                cp_id=req.cp_id,
                driver_id=req.driver_id,
                reason=reason,
            ),
        )
        expired = reason_code(reason) == DenyReason.EXPIRED
        hub.request_update(
            req.request_id,
            phase=RequestPhase.EXPIRED if expired else RequestPhase.DENIED,
            detail=describe_reason(reason) if detail is None else detail,
        )

    def _authorized(
        self,
        cp: CpMachine,
        session: CpSession,
        req: ChargeRequest,
        written: Future[None],
        received: float | None = None,
    ) -> None:
        """The session row is durable: now the engine and the driver may hear of it."""
        hub = self.hub
        if written.exception() is not None:
            # not a database outage (the writer retries those): this session cannot be kept
            if cp.session is not None and cp.session.session_id == session.session_id:
                cp.end_session(session.session_id)
                hub.cp_changed(cp)
            self._deny(req, DenyReason.INTERNAL_ERROR, "internal error")
            return
        if cp.session is None or cp.session.session_id != session.session_id:
            return  # cancelled meanwhile (stop, fault, monitor lost): the driver was told
        hub.command(
            cp.cp_id,
            Authorize(
                session_id=session.session_id,
                request_id=req.request_id,
                driver_id=req.driver_id,
                cp_id=cp.cp_id,
                price=session.price,
                expires_at=session.expires_at,
            ),
        )
        hub.counts.request(
            AUTHORIZED, None if received is None else max(0.0, self.clock() - received)
        )
        hub.notify_driver(
            req.driver_id,
            AuthorizedNotice(
                request_id=req.request_id,
                session_id=session.session_id,
                cp_id=cp.cp_id,
                driver_id=req.driver_id,
                expires_at=session.expires_at,
                origin=Origin(req.origin),
            ),
        )
        hub.request_update(
            req.request_id,
            phase=RequestPhase.AUTHORIZED,
            detail=f"plug in within {self.policy.authorization_ttl:.0f} s",
            session_id=session.session_id,
        )
        hub.say(
            f"{req.driver_id} authorized at {cp.cp_id} (session {session.session_id[:8]})",
            source=cp.cp_id,
        )

    # --- effects of CP transitions --------------------------------------------------------

    def apply(self, cp: CpMachine, transition: Transition) -> None:
        for effect in transition.effects:
            self._effect(cp, effect)

    def _effect(self, cp: CpMachine, effect: Effect) -> None:
        if isinstance(effect, AuthorizationCancelled):
            self.ends.cancelled(
                cp,
                effect.session,
                "cancelled",
                deny_text(DenyReason.AUTHORIZATION_CANCELLED, effect.reason),
            )
        else:
            self._interrupted(cp, effect)

    def _interrupted(self, cp: CpMachine, effect: SupplyInterrupted) -> None:
        # the driver hears of it with the engine's final reading, or from ``tick`` after
        # ``billing.final_wait`` with the last known one (Billing's ``Interrupted``)
        session = effect.session
        self.billing.interrupted(cp.cp_id, session, effect.reason, self.clock())
        self.hub.request_update(
            session.request_id,
            phase=RequestPhase.INTERRUPTED,
            detail=f"{effect.reason.value}; waiting for the CP's final reading",
            session_id=session.session_id,
        )
        self.hub.say(
            f"supply of {session.driver_id} interrupted: {effect.reason.value}",
            LogLevel.WARNING,
            cp.cp_id,
        )

    # --- time -----------------------------------------------------------------------------

    def excuse(self, seconds: float, now: float) -> None:
        """Central itself stood still for ``seconds`` (``central_app.watchdog``): the engines'
        reports waited in Kafka meanwhile, so no wait for one counts that time."""
        for cp in self.hub.sessions():
            s = cp.session
            if s is not None:
                s.last_event = min(s.last_event + seconds, now)
                s.excused += seconds
        self.billing.excuse(seconds)

    def tick(self, now: float) -> None:
        wall = utc_now()
        for cp in self.hub.sessions():
            s = cp.session
            if s is None:
                continue
            if s.phase is SessionPhase.AUTHORIZED and authorization_overdue(
                s.expires_at, wall, self.expiry_grace + s.excused
            ):
                if s.restored and now - s.last_event < self.billing.grace:
                    continue  # let the Kafka backlog say whether it started
                cp.end_session(s.session_id)
                self.ends.cancelled(cp, s, "expired", DenyReason.AUTHORIZATION_EXPIRED)
                self.hub.cp_changed(cp)
            elif (
                s.phase is SessionPhase.SUPPLYING
                and s.restored
                and not cp.monitor_up
                and now - s.last_event > self.billing.grace
            ):
                cp.end_session(s.session_id)
                self.ends.issue(self.billing.issue_inferred(cp.cp_id, s, EndReason.MONITOR_LOST))
                self.hub.cp_changed(cp)
        for entry in self.billing.notices_due(now):
            s = entry.session
            self.ends.tell_interrupted(
                s.driver_id, s.session_id, entry.cp_id, entry.reason, s.kwh, s.eur
            )
        for entry in self.billing.due(now):
            self.ends.issue(self.billing.issue_inferred(entry.cp_id, entry.session, entry.reason))
