"""What the engines report on ``evc.cp.events``: supply started / progress / ended and the end
of unused authorizations, one handler per event type. The supply desk owns one and hands it
every engine event (``SupplyDesk.cp_event``); it is the half that deals with redelivered, late
and out-of-order events. Sessions end through :class:`~central_app.session_ends.SessionEnds`,
as the desk's do.

A session belongs to the CP it was authorized at (docs/security.md, layer 2). The sealing
proves only *which CP* sent an event; an insider holding CP-02's key could still name the
``session_id`` of a supply running at CP-01 and end or bill it. So before any handler runs,
every session event must name the session's own CP (and, where it carries one, the
session's own driver), and the session must be one Central authorized: otherwise the event
is refused with :class:`ForeignSession` and changes nothing; the runtime dead-letters and
audits it like a value that did not open. Memory holds only live and recent sessions: a
session it does not know is asked of the database first, off the owner
(:mod:`central_app.session_recall`), and refused only if the database does not know it
either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from central_app.billing import Billing, ticket_from_ended, ticket_from_session
from central_app.cp_state import CpMachine, CpSession, SessionPhase
from central_app.energy_check import EnergyCheck
from central_app.hub import Hub
from central_app.offline_supplies import OfflineSupplies
from central_app.session_ends import SessionEnds
from central_app.session_recall import SessionRecall
from central_app.views import LogLevel, RequestPhase
from wire.kafka.messages import (
    AuthorizationExpired,
    AuthorizationRejected,
    CommandRefused,
    Event,
    SupplyEnded,
    SupplyProgress,
    SupplyProgressNotice,
    SupplyStarted,
    SupplyStartedNotice,
)
from wire.reasons import DenyReason, deny_text
from wire.timefmt import now_ts, utc_now

log = logging.getLogger(__name__)

SESSION_EVENTS = (
    SupplyStarted,
    SupplyProgress,
    SupplyEnded,
    AuthorizationExpired,
    AuthorizationRejected,
)


class ForeignSession(Exception):
    """A session event that does not agree with the session it names: another CP's session,
    another driver's, or no session Central authorized. Refused before it changes anything."""

    def __init__(self, cp_id: str, reason: str) -> None:
        super().__init__(reason)
        self.cp_id = cp_id


class EngineEvents:
    def __init__(
        self,
        hub: Hub,
        billing: Billing,
        ends: SessionEnds,
        clock: Callable[[], float],
        energy: EnergyCheck | None = None,
    ) -> None:
        self.hub = hub
        self.billing = billing
        self.ends = ends
        self.clock = clock
        self.energy = energy or EnergyCheck(default_rated_kw=None)
        self.offline = OfflineSupplies(hub, ends, self.energy)
        self.recall = SessionRecall(hub)
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            SupplyProgress: self._progress,
            SupplyStarted: self._started,
            SupplyEnded: self._ended,
            AuthorizationExpired: self._authorization_over,
            AuthorizationRejected: self._authorization_over,
            CommandRefused: self._command_refused,
        }

    def cp_event(
        self, event: Event, refused: Callable[[ForeignSession], None] | None = None
    ) -> None:
        """Handle one engine event; ``ForeignSession`` when it names a session that is not
        its CP's (nothing changed then). An event for a session memory no longer holds is
        handled once the database answered (``SessionRecall``); if it is refused then,
        ``refused`` hears of it (raised when the answer came at once and there is none)."""
        handler = self._handlers.get(type(event))
        if handler is None:
            log.warning("unexpected cp event %r", event)
            return
        if isinstance(event, SESSION_EVENTS) and self._unheard_of(event):
            self.recall.look_up(event.session_id, lambda: self._checked(event, handler, refused))
            return
        self._checked(event, handler, None)

    def _checked(
        self,
        event: Event,
        handler: Callable[[Any], None],
        refused: Callable[[ForeignSession], None] | None,
    ) -> None:
        """``event`` handled, once its session's ownership is checked."""
        if isinstance(event, SESSION_EVENTS):
            problem = self._ownership_problem(event)
            if problem is not None and self._unknown_offline(event):
                handler = self.offline.ended  # the CP's own session: its end bills it
            elif problem is not None:
                if refused is None:
                    raise ForeignSession(event.cp_id, problem)
                refused(ForeignSession(event.cp_id, problem))
                return
        handler(event)
        if isinstance(event, SupplyEnded):  # after the ticket's write, in the same batch
            self.hub.ledger.note_meter(event.session_id, round(event.kwh, 3))

    def _unheard_of(
        self,
        ev: SupplyStarted
        | SupplyProgress
        | SupplyEnded
        | AuthorizationExpired
        | AuthorizationRejected,
    ) -> bool:
        """Memory knows nothing of the session: an old one (ask the database) or a forgery."""
        if self.hub.ledger.session_info(ev.session_id) is not None:
            return False
        if self.billing.waiting(ev.session_id) is not None:
            return False
        cp = self.hub.cps.get(ev.cp_id)
        return cp is None or cp.session is None or cp.session.session_id != ev.session_id

    def _ownership_problem(
        self,
        ev: SupplyStarted
        | SupplyProgress
        | SupplyEnded
        | AuthorizationExpired
        | AuthorizationRejected,
    ) -> str | None:
        """Why ``ev`` may not speak of its session (None: the session is its CP's)."""
        owner: tuple[str, str] | None = None
        note = self.hub.ledger.session_info(ev.session_id)
        if note is not None:
            owner = (note.cp_id, note.driver_id)
        else:
            waiting = self.billing.waiting(ev.session_id)
            cp = self.hub.cps.get(ev.cp_id)
            if waiting is not None:
                owner = (waiting.cp_id, waiting.session.driver_id)
            elif cp is not None and cp.session and cp.session.session_id == ev.session_id:
                owner = (cp.cp_id, cp.session.driver_id)
        short = ev.session_id[:8]
        if owner is None:
            return f"{ev.TYPE} for session {short}…, which Central never authorized"
        cp_id, driver_id = owner
        if cp_id != ev.cp_id:
            return f"{ev.TYPE} from {ev.cp_id} for session {short}… of {cp_id}"
        named = getattr(ev, "driver_id", None)
        if named is not None and named != driver_id:
            return f"{ev.TYPE} for session {short}… of {driver_id} names driver {named}"
        return None

    def _unknown_offline(self, ev: Event) -> bool:
        """The end of a supply a charger started on its own, which Central has not heard of
        (``central_app.offline_supplies``); a known one takes the usual path (a replay)."""
        return (
            isinstance(ev, SupplyEnded)
            and OfflineSupplies.is_offline(ev)
            and self.hub.ledger.session_info(ev.session_id) is None
        )

    def _started(self, ev: SupplyStarted) -> None:
        hub = self.hub
        cp = hub.cps.get(ev.cp_id)
        if cp is None:
            log.warning("supply_started from unknown CP %s", ev.cp_id)
            return
        current = cp.session
        if current is not None and current.session_id == ev.session_id and current.started_at:
            return  # a redelivered supply_started
        transition = cp.supply_started(ev.session_id, ev.started_at, self.clock())
        if not transition.accepted and not self._adopt(cp, ev):
            return
        hub.ledger.mark_started(ev.session_id, ev.started_at)
        session = cp.session
        assert session is not None
        hub.notify_driver(
            ev.driver_id,
            SupplyStartedNotice(
                session_id=ev.session_id,
                cp_id=ev.cp_id,
                driver_id=ev.driver_id,
                started_at=ev.started_at,
                request_id=session.request_id,
            ),
        )
        hub.request_update(
            session.request_id, phase=RequestPhase.SUPPLYING, session_id=ev.session_id
        )
        hub.say(f"supply started for {ev.driver_id}", source=ev.cp_id)
        hub.cp_changed(cp)

    def _adopt(self, cp: CpMachine, ev: SupplyStarted) -> bool:
        """A supply_started for a session Central had already let go (late plug-in)."""
        info = self.hub.ledger.session_info(ev.session_id)
        if info is None or info.status in ("ticketed", "supplying") or cp.session is not None:
            log.info(
                "supply_started for %s ignored (status %s)",
                ev.session_id,
                info.status if info else None,
            )
            return False
        session = CpSession(
            session_id=ev.session_id,
            driver_id=ev.driver_id,
            price=info.price if info.price is not None else cp.price,
            expires_at=ev.started_at,
            request_id=info.request_id,
            phase=SessionPhase.SUPPLYING,
            started_at=ev.started_at,
            last_event=self.clock(),
        )
        cp.adopt(session)
        self.hub.note_session(cp)
        self.hub.ledger.reopen_session(ev.session_id, ev.started_at)
        self.hub.say(
            f"late supply_started adopted for session {ev.session_id[:8]}",
            LogLevel.WARNING,
            cp.cp_id,
        )
        return True

    def _implausible(self, cp_id: str, session: CpSession | None, kwh: float) -> str | None:
        """Why the reading ``kwh`` of ``session`` cannot be billed (None: it can). The first
        refusal flags the session, is audited and shown; later ones of it only logged."""
        if session is None:
            return self.energy.problem(
                kwh, last_kwh=0.0, authorized_at=None, now=utc_now(), rated_kw=None
            )
        cp = self.hub.cps.get(cp_id)
        problem = self.energy.problem(
            kwh,
            last_kwh=session.kwh,
            authorized_at=session.authorized_at or None,
            now=utc_now(),
            rated_kw=cp.rated_kw if cp is not None else None,
        )
        if problem is None:
            return None
        if session.flag is None:
            session.flag = f"implausible reading refused: {problem}"
            self.hub.ledger.audit(
                f"cp:{cp_id}",
                "implausible_energy",
                f"session {session.session_id}: {problem}; billed at most {session.kwh:.3f} kWh",
            )
            self.hub.tell(
                "implausible meter readings",
                f"refused an implausible reading for session {session.session_id[:8]}… "
                f"({problem}); it is billed with its last plausible reading "
                f"({session.kwh:.3f} kWh) and flagged",
                LogLevel.ERROR,
                cp_id,
            )
        else:
            log.info("implausible reading for %s again: %s", session.session_id, problem)
        return problem

    def _progress(self, ev: SupplyProgress) -> None:
        hub = self.hub
        cp = hub.cps.get(ev.cp_id)
        current = cp.session if cp is not None else None
        if current is None or current.session_id != ev.session_id:
            waiting = self.billing.waiting(ev.session_id)
            current = waiting.session if waiting is not None else None
        if (
            current is not None
            and ev.seq > current.seq
            and self._implausible(ev.cp_id, current, ev.kwh) is not None
        ):
            return  # not billed: the session keeps its last plausible reading
        if cp is not None:
            before_phase = (
                cp.session.phase if cp.session and cp.session.session_id == ev.session_id else None
            )
            transition = cp.supply_progress(
                ev.session_id, ev.seq, ev.kw, ev.kwh, ev.eur, self.clock()
            )
            if transition.accepted:
                if before_phase is SessionPhase.AUTHORIZED:
                    hub.ledger.mark_started(ev.session_id, ev.ts)
                hub.notify_driver(
                    ev.driver_id,
                    SupplyProgressNotice(
                        session_id=ev.session_id,
                        cp_id=ev.cp_id,
                        driver_id=ev.driver_id,
                        kw=ev.kw,
                        kwh=ev.kwh,
                        eur=ev.eur,
                        # the reading's own time: readings delayed by a broker outage arrive
                        # together, and each must still show its own elapsed time
                        ts=ev.ts,
                    ),
                )
                hub.cp_changed(cp)
                return
        self.billing.note_progress(ev.session_id, ev.seq, ev.kwh, ev.eur)

    def _ended(self, ev: SupplyEnded) -> None:
        hub = self.hub
        cp = hub.cps.get(ev.cp_id)
        transition, session = cp.end_session(ev.session_id) if cp else (None, None)
        waiting = self.billing.waiting(ev.session_id)
        known = session or (waiting.session if waiting else None)
        if known is not None:
            price, request_id = known.price, known.request_id
        else:
            info = hub.ledger.session_info(ev.session_id)
            price, request_id = (info.price, info.request_id) if info else (None, None)
        inferred = self.billing.inferred(ev.session_id) if known is None else None
        if known is None and (inferred is not None or hub.ledger.amendable(ev.session_id)):
            # Central ticketed it from its last reading (the end came late: Kafka down, Central
            # frozen): the meter's final reading is the one to bill, if it is plausible.
            if self._implausible(ev.cp_id, inferred, ev.kwh) is None:
                self.ends.amend(ticket_from_ended(ev, price=price, request_id=request_id))
            return
        problem = self._implausible(ev.cp_id, known, ev.kwh)
        if problem is not None and known is not None:  # billed with the last plausible one
            ticket = ticket_from_session(
                ev.cp_id, known, reason=ev.reason, ended_at=ev.ended_at or now_ts()
            )
        else:
            ticket = ticket_from_ended(ev, price=price, request_id=request_id)
            flag = known.flag if known is not None else problem
            if flag:
                ticket = replace(ticket, flag=flag)
        self.ends.issue(ticket)
        if (
            cp is not None
            and transition is not None
            and transition.changed
            or cp is not None
            and session is not None
        ):
            hub.cp_changed(cp)

    def _command_refused(self, ev: CommandRefused) -> None:
        """An engine refused a command on its partition (forged, unsealed, replayed): audit
        it and tell the operator; nothing else changes (docs/security.md, layer 6)."""
        what = ev.command_type or "command"
        where = f" at offset {ev.offset}" if ev.offset is not None else ""
        self.hub.ledger.audit(f"cp:{ev.cp_id}", "command_refused", f"{what}{where}: {ev.reason}")
        self.hub.tell(
            "commands refused by engines",
            f"the engine refused a {what}{where}: {ev.reason}",
            LogLevel.WARNING,
            ev.cp_id,
        )

    def _authorization_over(self, ev: AuthorizationExpired | AuthorizationRejected) -> None:
        hub = self.hub
        cp = hub.cps.get(ev.cp_id)
        expired = isinstance(ev, AuthorizationExpired)
        status = "expired" if expired else "rejected"
        reason = (
            deny_text(DenyReason.AUTHORIZATION_EXPIRED)
            if expired
            else deny_text(DenyReason.AUTHORIZATION_REJECTED, ev.reason)
        )
        if cp is None:
            return
        transition, session = cp.end_session(ev.session_id)
        if session is None or session.phase is not SessionPhase.AUTHORIZED:
            if session is not None:  # an end of authorization for a running supply: keep it
                cp.adopt(session)
                hub.note_session(cp)
            hub.ledger.close_session(ev.session_id, status, reason)
            return
        self.ends.cancelled(cp, session, status, reason)
        hub.cp_changed(cp)
