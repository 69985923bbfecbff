"""Each charge point's OCPP transactions on disk: which EVCharging session a transactionId is.

A charger that lost its WebSocket keeps charging and replays StopTransaction and MeterValues
when it is back (OCPP 1.6 §3.7) — possibly after the gateway itself restarted. So the
transactionId the gateway handed out in StartTransaction.conf is written, with the session,
driver, price and meterStart, before the answer leaves, in ``<dir>/<cp_id>.ocpp.json``
(0600, replaced atomically). A stopped transaction stays in a short list of ended ones, so
a StopTransaction replayed twice is recognised and does not end anything again (Central
would ignore the duplicate ``supply_ended`` anyway: ``session_id`` makes it idempotent).

OCPP 2.0.1 chargers name their transactions themselves (``transactionId``, a string, in
every TransactionEvent): it is kept beside the gateway's number (``charger_tx``), and the
ended ones too, so a replayed Ended is recognised the same way.

A transaction the charger started on its own (``offline``: an id from its local list while
it could not reach Central) is written the same way, with a session id the gateway made:
a replayed stop, or one after a gateway restart, ends it once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

from wire.pki import write_private

log = logging.getLogger(__name__)

ENDED_KEPT = 64


@dataclass
class Transaction:
    transaction_id: int
    session_id: str
    driver_id: str
    price: float
    meter_start: float  # Wh
    started_at: str
    meter_last: float  # Wh, the latest reading (MeterValues)
    seq: int = 0  # supply_progress sequence
    charger_tx: str = ""  # 2.0.1: the charger's own transactionId
    metered: bool = True  # False: no reading at the start yet (2.0.1); the first one is it
    # started by the charger on its own (offline, its local list): no session at Central, the
    # session_id is the gateway's; billed by its supply_ended (origin ``offline``)
    offline: bool = False


class TransactionIds:
    """The gateway's transactionIds: one counter for all its charge points (a central system
    hands out ids unique across its chargers), on disk in ``<dir>/transaction-id``. It starts
    from the clock, so even a lost file never hands out an id again."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "transaction-id"
        self.last = int(time.time()) % 1_000_000_000
        try:
            self.last = max(self.last, int(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s (%s): counting from the clock", self.path, exc)

    def next(self) -> int:
        self.last += 1
        write_private(self.path, str(self.last).encode())
        return self.last


class TransactionBook:
    def __init__(self, directory: Path, cp_id: str, ids: TransactionIds | None = None) -> None:
        self.path = Path(directory) / f"{cp_id}.ocpp.json"
        self.ids = ids or TransactionIds(directory)
        self.open: dict[int, Transaction] = {}
        self.ended: deque[int] = deque(maxlen=ENDED_KEPT)
        self.ended_charger: deque[str] = deque(maxlen=ENDED_KEPT)  # 2.0.1 transactionIds
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.open = {int(k): Transaction(**v) for k, v in data["open"].items()}
            self.ended.extend(int(t) for t in data["ended"])
            self.ended_charger.extend(str(t) for t in data.get("ended_charger", []))
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read %s (%s): starting with no open transaction", self.path, exc)

    def save(self) -> None:
        data = {
            "open": {str(k): asdict(v) for k, v in self.open.items()},
            "ended": list(self.ended),
            "ended_charger": list(self.ended_charger),
        }
        write_private(self.path, json.dumps(data, separators=(",", ":")).encode())

    def begin(
        self,
        *,
        session_id: str,
        driver_id: str,
        price: float,
        meter_start: float | None,
        started_at: str,
        charger_tx: str = "",
        offline: bool = False,
    ) -> Transaction:
        """A new transaction, on disk before its id is given to the charger (``meter_start``
        None: a 2.0.1 start without a reading; the first reading then counts as the start)."""
        start = meter_start if meter_start is not None else 0.0
        tx = Transaction(
            self.ids.next(),
            session_id,
            driver_id,
            price,
            start,
            started_at,
            start,
            charger_tx=charger_tx,
            metered=meter_start is not None,
            offline=offline,
        )
        self.open[tx.transaction_id] = tx
        self.save()
        return tx

    def finish(self, transaction_id: int) -> Transaction | None:
        """Close an open transaction (None when it is not open: unknown or ended before)."""
        tx = self.open.pop(transaction_id, None)
        if tx is not None:
            self.ended.append(transaction_id)
            if tx.charger_tx:
                self.ended_charger.append(tx.charger_tx)
            self.save()
        return tx

    def was_ended(self, transaction_id: int) -> bool:
        return transaction_id in self.ended

    def by_charger(self, charger_tx: str) -> Transaction | None:
        """The open transaction the charger calls ``charger_tx`` (2.0.1)."""
        return next((tx for tx in self.open.values() if tx.charger_tx == charger_tx), None)

    def charger_ended(self, charger_tx: str) -> bool:
        return charger_tx in self.ended_charger

    def running(self) -> Transaction | None:
        """The open transaction (one connector per charge point here)."""
        return next(iter(self.open.values()), None)
