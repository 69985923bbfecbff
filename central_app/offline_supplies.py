"""Supplies a charger started on its own: billed at their end (issue 24, item 5).

An OCPP charger that cannot reach Central (its WebSocket down, or the gateway's link to
Central) still starts a transaction for an id it authorized itself, from its local list or
cache. Central has no session for it: it learns of it from the ``supply_ended`` the charger
replays when it is back, which says ``origin: offline`` and carries a session id the CP made
(docs/ocpp.md, "Offline charging"). That end is then the whole session:

- the id is a registered driver's: a session with origin ``offline`` at the CP's current
  price, started when the charger says, authorized when Central heard of it, and its one
  ticket with the meter's energy, as any ticket (the driver's notice, ``evc-admin sessions``,
  reconciliation); the audit log says Central billed a supply it never authorized;
- the registry does not know the id (never registered, or removed): nothing is billed, the
  audit log and the control center say which charger, which id and how much energy.

The energy must be plausible over the transaction's own duration, on the charger's clock
(Central's clock saw none of it): the rated power times the time from its start to its end.
A reading beyond that is not billed (a flagged ticket of 0 kWh), audited and told.

A replayed end (the same ``session_id``) bills nothing twice: the session is then known, and
the engine events' usual path finds its ticket issued; an unknown id's report is said once
per session while Central runs. Plain logic over the hub, on the core's owner thread.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace

from central_app.billing import ticket_from_ended
from central_app.energy_check import EnergyCheck
from central_app.hub import Hub
from central_app.session_ends import SessionEnds
from central_app.views import LogLevel, RequestPhase
from wire.kafka.messages import SupplyEnded
from wire.states import OFFLINE_ORIGIN
from wire.timefmt import now_ts, parse_ts, utc_now

log = logging.getLogger(__name__)

#: unknown ids' offline sessions remembered, so a replayed end is not reported again
UNBILLED_KEPT = 1024


class OfflineSupplies:
    def __init__(self, hub: Hub, ends: SessionEnds, energy: EnergyCheck) -> None:
        self.hub = hub
        self.ends = ends
        self.energy = energy
        self._unbilled: OrderedDict[str, None] = OrderedDict()

    @staticmethod
    def is_offline(ev: SupplyEnded) -> bool:
        return ev.origin == OFFLINE_ORIGIN

    def ended(self, ev: SupplyEnded) -> None:
        """The end of an offline supply whose session Central does not know yet."""
        hub = self.hub
        cp = hub.cps.get(ev.cp_id)
        if cp is None:
            log.warning("offline supply_ended from unknown CP %s", ev.cp_id)
            return
        if ev.session_id in self._unbilled:
            log.info("offline supply %s of an unknown id reported again", ev.session_id)
            return
        what = (
            f"{ev.kwh:.3f} kWh for id {ev.driver_id!r} offline "
            f"({ev.started_at} to {ev.ended_at}, session {ev.session_id})"
        )
        if not hub.ledger.driver_exists(ev.driver_id):
            self._unbilled[ev.session_id] = None
            while len(self._unbilled) > UNBILLED_KEPT:
                self._unbilled.popitem(last=False)
            hub.ledger.audit(
                f"cp:{ev.cp_id}",
                "offline_unknown_id",
                f"charged {what}; the driver registry does not know the id: billed to no one",
            )
            hub.tell(
                "offline charges for unknown ids",
                f"charged {what}, an id the driver registry does not know: billed to no one "
                "(a card still on the charger's local list?)",
                LogLevel.WARNING,
                ev.cp_id,
            )
            return
        problem = self._implausible(ev, cp.rated_kw)
        ticket = ticket_from_ended(ev, price=cp.price)
        if problem is not None:
            ticket = replace(
                ticket, kwh=0.0, eur=0.0, flag=f"implausible offline reading: {problem}"
            )
        now = now_ts()
        hub.ledger.create_session(
            cp_id=ev.cp_id,
            session_id=ev.session_id,
            request_id=None,
            driver_id=ev.driver_id,
            origin=OFFLINE_ORIGIN,
            price=cp.price,
            authorized_at=now,
            expires_at=now,
        )
        hub.ledger.mark_started(ev.session_id, ev.started_at)
        hub.request_update(
            None,
            phase=RequestPhase.SUPPLYING,
            detail="started by the charger offline",
            session_id=ev.session_id,
            driver_id=ev.driver_id,
            cp_id=ev.cp_id,
            origin=OFFLINE_ORIGIN,
        )
        hub.ledger.audit(
            f"cp:{ev.cp_id}",
            "offline_supply",
            f"charged {what}; billed {ticket.kwh:.3f} kWh, {ticket.eur:.2f} EUR"
            + (f" ({ticket.flag})" if ticket.flag else ""),
        )
        if problem is not None:
            hub.tell(
                "implausible meter readings",
                f"refused the offline reading of session {ev.session_id[:8]}… ({problem}); "
                "its ticket is 0 kWh and flagged",
                LogLevel.ERROR,
                ev.cp_id,
            )
        self.ends.issue(ticket)

    def _implausible(self, ev: SupplyEnded, rated_kw: float | None) -> str | None:
        try:
            ended = parse_ts(ev.ended_at)
        except ValueError:
            ended = utc_now()
        return self.energy.problem(
            ev.kwh, last_kwh=0.0, authorized_at=ev.started_at, now=ended, rated_kw=rated_kw
        )
