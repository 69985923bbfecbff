"""Each charge point's OCPP transactions on disk: which EVCharging session a transactionId is.

A charger that lost its WebSocket keeps charging and replays StopTransaction and MeterValues
when it is back (OCPP 1.6 §3.7) — possibly after the gateway itself restarted. So the
transactionId the gateway handed out in StartTransaction.conf is written, with the session,
driver, price and meterStart, before the answer leaves, in ``<dir>/<cp_id>.ocpp.json``
(0600, replaced atomically). A stopped transaction stays in a short list of ended ones, so
a StopTransaction replayed twice is recognised and does not end anything again (Central
would ignore the duplicate ``supply_ended`` anyway: ``session_id`` makes it idempotent).
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


class TransactionBook:
    def __init__(self, directory: Path, cp_id: str) -> None:
        self.path = Path(directory) / f"{cp_id}.ocpp.json"
        self.open: dict[int, Transaction] = {}
        self.ended: deque[int] = deque(maxlen=ENDED_KEPT)
        self.next_id = int(time.time()) % 1_000_000_000  # unique even if the file is lost
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.next_id = max(self.next_id, int(data["next_id"]))
            self.open = {int(k): Transaction(**v) for k, v in data["open"].items()}
            self.ended.extend(int(t) for t in data["ended"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read %s (%s): starting with no open transaction", self.path, exc)

    def save(self) -> None:
        data = {
            "next_id": self.next_id,
            "open": {str(k): asdict(v) for k, v in self.open.items()},
            "ended": list(self.ended),
        }
        write_private(self.path, json.dumps(data, separators=(",", ":")).encode())

    def begin(
        self, *, session_id: str, driver_id: str, price: float, meter_start: float, started_at: str
    ) -> Transaction:
        """A new transaction, on disk before its id is given to the charger."""
        self.next_id += 1
        tx = Transaction(
            self.next_id, session_id, driver_id, price, meter_start, started_at, meter_start
        )
        self.open[tx.transaction_id] = tx
        self.save()
        return tx

    def finish(self, transaction_id: int) -> Transaction | None:
        """Close an open transaction (None when it is not open: unknown or ended before)."""
        tx = self.open.pop(transaction_id, None)
        if tx is not None:
            self.ended.append(transaction_id)
            self.save()
        return tx

    def was_ended(self, transaction_id: int) -> bool:
        return transaction_id in self.ended

    def running(self) -> Transaction | None:
        """The open transaction (one connector per charge point here)."""
        return next(iter(self.open.values()), None)
