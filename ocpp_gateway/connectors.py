"""A charger's connectors, each a CP of its own at Central (issue 24, item 4; docs/ocpp.md,
*Several connectors*).

One WebSocket, one charger id ``X`` (its URL, password, certificate); one ``Point`` per
connector n ≥ 1, each a CP at Central with its own monitor link (REGISTER/AUTH, credential,
heartbeats), state, session, commands and tickets:

- **naming** (``connector_cp_id``): a charger served with one connector is the CP ``X``, as
  before connectors existed; a charger served with N ≥ 2 is the CPs ``X-1`` … ``X-N``;
- **how many**: the operator says it (``EV_OCPP --connectors X=N``, or ``--connectors N``
  for every charger; ``ConnectorCounts``), 1 by default. A CP id at Central never changes
  behind the operator's back, and a secured Central admits each CP with its own enrollment
  token: the operator knows the connectors when commissioning. The charger's word is
  checked against it: a 1.6 GetConfiguration ``NumberOfConnectors`` after each accepted
  boot, and each StatusNotification (1.6 connectorId, 2.0.1 evseId) of a connector not
  served — a difference is said once, with the option that fixes it.

``ChargerPoints`` is the charger as its connection sees it (``GatewayChargePoint`` of either
version): it routes each message to its connector's ``Point`` — connector 0 (2.0.1: EVSE 0)
to all of them, a StartTransaction/MeterValues by its connectorId, a StopTransaction or a
2.0.1 TransactionEvent by its transaction, an Authorize (no connector in either version) to
the connector the driver plugged into, else the first free one — and answers the boot for
all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cp_core.passwords import CHARGE_POINT_ID
from ocpp_gateway import mapping
from ocpp_gateway.point import Charger, Host, Point
from ocpp_gateway.send_local_list import LocalListSender

log = logging.getLogger(__name__)

MAX_CONNECTORS = 99
# a connector with a vehicle plugged in and no transaction yet: where an RFID card is meant
PLUGGED = frozenset({mapping.PREPARING, mapping.OCCUPIED})


def connector_cp_id(charger_id: str, connector: int, count: int) -> str:
    """The CP at Central of connector ``connector`` of a charger served with ``count``."""
    return charger_id if count == 1 else f"{charger_id}-{connector}"


def cp_ids(charger_id: str, count: int) -> list[str]:
    return [connector_cp_id(charger_id, n, count) for n in range(1, count + 1)]


def bad_cp_id(charger_id: str, count: int) -> str | None:
    """The first CP id of this charger that is no valid id (too long), None when all are."""
    return next((c for c in cp_ids(charger_id, count) if not CHARGE_POINT_ID.fullmatch(c)), None)


def connectors_option(text: str) -> tuple[str | None, int]:
    """``--connectors``: ``ID=N`` (that charger) or ``N`` (every charger not named)."""
    charger_id, sep, number = text.rpartition("=")
    try:
        count = int(number)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_CONNECTORS:
        raise argparse.ArgumentTypeError(f"expected ID=N or N with N from 1 to {MAX_CONNECTORS}")
    if not sep:
        return None, count
    if not CHARGE_POINT_ID.fullmatch(charger_id):
        raise argparse.ArgumentTypeError(f"{charger_id!r} is not a charge point id")
    bad = bad_cp_id(charger_id, count)
    if bad is not None:
        raise argparse.ArgumentTypeError(f"its connectors' CP ids (e.g. {bad}) exceed 64 chars")
    return charger_id, count


class ConnectorCounts:
    """How many connectors each charger is served with: the operator's word."""

    def __init__(self, default: int = 1, chargers: dict[str, int] | None = None) -> None:
        self.default = default
        self.chargers = dict(chargers or {})

    @classmethod
    def of_options(cls, options: Iterable[tuple[str | None, int]]) -> ConnectorCounts:
        counts = cls()
        for charger_id, count in options:
            if charger_id is None:
                counts.default = count
            else:
                counts.chargers[charger_id] = count
        return counts

    def of(self, charger_id: str) -> int:
        return self.chargers.get(charger_id, self.default)


class ChargerPoints:
    """One charger and the points of its connectors, across its WebSocket connections."""

    def __init__(self, gateway: Host, charger_id: str, points: dict[int, Point]) -> None:
        self.gateway = gateway
        self.charger_id = charger_id
        self.connectors = points  # connector n ≥ 1 -> its Point
        self.cp: Charger | None = None
        self.authenticated = False
        self._said: set[str] = set()  # differences from the operator's count, said once
        self._tasks: set[asyncio.Task[Any]] = set()
        # one local authorization list for the charger, whatever its connectors
        self.local_list = LocalListSender(gateway.local_list, self.say)

    @property
    def points(self) -> list[Point]:
        return list(self.connectors.values())

    @property
    def count(self) -> int:
        return len(self.connectors)

    def say(self, text: str) -> None:
        self.gateway.say(f"[{self.charger_id}] {text}")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the WebSocket -----------------------------------------------------------------------

    def attach(self, cp: Charger, authenticated: bool) -> None:
        """A new connection: it replaces an older one (closed once, for all connectors)."""
        old, self.cp = self.cp, cp
        self.authenticated = authenticated
        if old is not None and old is not cp:
            self._spawn(old.close("replaced by a new connection"))
        for point in self.points:
            point.attach(cp, authenticated)

    async def detach(self, cp: Charger, why: str) -> None:
        if cp is not self.cp:
            return
        self.cp = None
        for point in self.points:
            await point.detach(cp, why)

    # --- what the charger says ---------------------------------------------------------------

    async def boot(self, vendor: str, model: str) -> str:
        """BootNotification, for every connector at once: Accepted when Central accepted any
        of its CPs — one it refused (no enrollment token for ``X-2`` yet…) goes on asking by
        itself, as the charger will not boot again; else Pending while one waits for
        Central, else Rejected."""
        if not (self.authenticated or self.gateway.auto_register):
            self.say("BootNotification refused: unknown charge point (no password provisioned)")
            return "Rejected"
        points = self.points
        answers = await asyncio.gather(*(point.boot(vendor, model) for point in points))
        if "Accepted" in answers:
            for point, answer in zip(points, answers, strict=True):
                if answer == "Rejected":
                    point.keep_trying()
            return "Accepted"
        return "Pending" if "Pending" in answers else "Rejected"

    def booted(
        self,
        cp: Charger,
        number_of_connectors: Callable[[], Awaitable[int | None]] | None = None,
    ) -> None:
        """After an accepted boot: the charger's local authorization list
        (``ocpp_gateway.send_local_list``, its calls counted as a point's) and, 1.6, ask
        the charger how many connectors it has."""
        if cp is not self.cp or not any(p.link is not None and p.link.up for p in self.points):
            return
        if number_of_connectors is not None:
            self._spawn(self._check_count(number_of_connectors))
        point = self.points[0]
        self._spawn(self.local_list.send(cp.version, lambda p: point.ask(cp, p, False)))

    async def _check_count(self, number_of_connectors: Callable[[], Awaitable[int | None]]) -> None:
        try:
            reported = await number_of_connectors()
        except Exception as exc:  # a timeout, a closed connection: nothing learnt
            log.info("%s: GetConfiguration NumberOfConnectors: %s", self.charger_id, exc)
            reported = None
        # as the point's calls are counted: no_answer for a CALLERROR or none
        self.gateway.count_call(
            "sent", "GetConfiguration", "no_answer" if reported is None else "ok"
        )
        if reported is None:
            return
        if reported > self.count:
            self._unserved(self.count + 1, f"NumberOfConnectors {reported}", reported)
        elif reported < self.count:
            extra = ", ".join(cp_ids(self.charger_id, self.count)[reported:])
            self._once(
                f"fewer:{reported}",
                f"the charger reports {reported} connector(s) (NumberOfConnectors) but is "
                f"served with {self.count}: {extra} will never charge (EV_OCPP --connectors "
                f"{self.charger_id}={reported})",
            )

    def _once(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.say(text)

    def _unserved(self, connector: int, seen: str, count: int | None = None) -> None:
        """A connector the operator's count leaves out: said once, with the option."""
        count = max(count or connector, self.count)
        if self.count == 1:
            served = f"served as one CP, {self.charger_id} (connector 1)"
        else:
            served = f"served with {self.count} connectors"
        self._once(
            f"unserved:{connector}",
            f"connector {connector} is not served ({seen}): the charger is {served}; "
            f"EV_OCPP --connectors {self.charger_id}={count} makes each connector a CP "
            f"({', '.join(cp_ids(self.charger_id, count))})",
        )

    def status(self, connector_id: int, status: str, error_code: str, info: str | None) -> None:
        """Connector 0 (2.0.1: EVSE 0) is the charger as a whole: every connector's."""
        if connector_id == 0:
            for point in self.points:
                point.status(0, status, error_code, info)
        elif (point := self.connectors.get(connector_id)) is not None:
            point.status(connector_id, status, error_code, info)
        else:
            self._unserved(connector_id, f"StatusNotification {status}")

    def _for_connector(self, connector_id: int | None) -> Point | None:
        """A connector's point; a charger served as one CP takes every connector's
        transactions on it, as before connectors were served."""
        point = self.connectors.get(connector_id) if connector_id is not None else None
        if point is None and self.count == 1:
            return self.connectors[min(self.connectors)]
        return point

    def _by_transaction(self, transaction_id: int | None) -> Point | None:
        if transaction_id is None:
            return None
        return next((p for p in self.points if transaction_id in p.station.book.open), None)

    async def authorize(self, id_tag: str) -> bool:
        """Authorize.req (an RFID card; no connector in either version): a connector where
        Central authorized this driver already; else the one a vehicle is plugged into and
        nobody authorized yet, else the first free one, asks Central for the driver."""
        for point in self.points:
            if point.station.check_id_tag(id_tag) is True:
                return True
        up = [p for p in self.points if p.link is not None and p.link.up and p.station.free]
        plugged = [p for p in up if p.station.status in PLUGGED]
        chosen = (plugged or up or self.points)[0]
        return await chosen.authorize(id_tag)

    def start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str
    ) -> tuple[int, bool]:
        point = self._for_connector(connector_id)
        if point is None:
            self._unserved(connector_id, "StartTransaction")
            return self.gateway.ids.next(), False
        return point.start(id_tag, meter_start, timestamp)

    def meter(
        self, connector_id: int, transaction_id: int | None, meter_value: list[dict[str, Any]]
    ) -> None:
        point = self._by_transaction(transaction_id) or self._for_connector(connector_id)
        if point is not None:
            point.meter(transaction_id, meter_value)

    def stop(
        self, transaction_id: int, meter_stop: int, timestamp: str, reason: str | None
    ) -> None:
        """StopTransaction names no connector: its transaction does (on disk, so a stop
        replayed after a gateway restart finds it too)."""
        point = self._by_transaction(transaction_id) or self._for_connector(None)
        if point is not None:
            point.stop(transaction_id, meter_stop, timestamp, reason)

    def transaction_event(self, ev: mapping.TxEvent, evse_id: int | None = None) -> bool | None:
        """A 2.0.1 TransactionEvent: to the connector that has its transaction; else its
        EVSE's (2.0.1 names the EVSE in a transaction's first event); else the connector
        waiting for its remoteStartId or its driver."""
        point = next(
            (
                p
                for p in self.points
                if p.station.book.by_charger(ev.charger_tx) is not None
                or p.station.book.charger_ended(ev.charger_tx)
            ),
            None,
        )
        if point is None and evse_id is not None:
            point = self._for_connector(evse_id)
            if point is None:
                self._unserved(evse_id, f"TransactionEvent {ev.kind}")
                return False if ev.id_tag is not None else None
        if point is None:
            point = next((p for p in self.points if _waits_for(p, ev)), None)
        point = point or self._for_connector(None)
        return point.transaction_event(ev) if point is not None else None


def _waits_for(point: Point, ev: mapping.TxEvent) -> bool:
    pending = point.station.pending
    if pending is None:
        return False
    if ev.remote_start_id is not None and ev.remote_start_id == pending.remote_start_id:
        return True
    return ev.id_tag is not None and ev.id_tag == pending.command.driver_id
