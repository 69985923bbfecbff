"""``KafkaInput``: what Central does with each batch the consumer thread hands over — handled
on the owner a chunk at a time, failures dead-lettered one by one, and the batch marked done
only once the database writes it caused are durable and only by a Central still entitled to
serve (docs/central.md, "One owner")."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

from central_app.db_writer import DbWriter
from central_app.engine_events import ForeignSession
from central_app.kafka_loop import KafkaLink
from central_app.owner import Failures, Owner
from central_app.pair_role import PairRole
from central_app.sealing import Refusal
from central_app.supplies import SupplyDesk
from central_app.timers import TICK
from wire.kafka.consumer import Handled, Received
from wire.kafka.messages import ChargeRequest
from wire.kafka.sealed import cp_kid

log = logging.getLogger(__name__)

# How long a batch handled while the lease looked stale waits for the owner's tick to decide
STEP_DOWN_WAIT_S = 4 * TICK


class KafkaInput:
    def __init__(
        self,
        owner: Owner,
        supplies: SupplyDesk,
        kafka: KafkaLink,
        writer: DbWriter,
        pair: PairRole,
    ) -> None:
        self.owner = owner
        self._supplies = supplies
        self.kafka = kafka
        self._writer = writer
        self._pair = pair

    def on_kafka(self, batch: list[Received]) -> Handled:
        """Handle a batch of events on the owner (one hand-over per batch, not per event).

        Its offsets are stored only once the database writes it caused are durable (the
        writer's barrier), while the consumer goes on with the next batches; while the
        database is down those barriers never complete, and after ``MAX_UNDURABLE`` batches
        the consumer stops reading until it is back: nothing is dead-lettered or lost
        because of an outage. Heartbeats are served by the owner meanwhile.
        """
        dropped = self.kafka.dropped
        failures = self.owner.in_chunks(batch, self.handle_events)
        if not self._entitled(dropped):
            # Handled by a Central that was being deposed: what it answered was dropped (the
            # gate) and what it wrote is fenced, so the events are not done. Once the owner's
            # tick has stepped down, their offsets are never stored and the new active reads
            # them again (found by evc-chaos: a driver's request handled at the moment of a
            # step-down was never answered). A lease renewed late but in time goes on.
            self._pair.deposed.wait(STEP_DOWN_WAIT_S)
            if self._pair.deposed.is_set():
                return Handled(failures, Future())
        looked_up = self._supplies.settled()
        if not looked_up.done():
            return Handled(failures, self._after(looked_up))
        if self._writer.backlog == 0:
            return Handled(failures)
        return Handled(failures, self._writer.barrier())

    def _after(self, looked_up: Future[None]) -> Future[None]:
        """Durable once the events of the batch that waited for the database
        (``central_app.session_recall``) are handled and what they wrote is committed."""
        durable: Future[None] = Future()

        def committed(barrier: Future[None]) -> None:
            exc = barrier.exception()
            if exc is None:
                durable.set_result(None)
            else:
                durable.set_exception(exc)

        looked_up.add_done_callback(lambda _: self._writer.barrier().add_done_callback(committed))
        return durable

    def _entitled(self, dropped_before: int) -> bool:
        """Still the active Central, and nothing was dropped by the gate since ``dropped_before``."""
        if self._pair.leadership is None:
            return True
        if self._pair.deposed.is_set() or not self._pair.holds():
            return False
        return self.kafka.dropped == dropped_before

    def handle_events(self, batch: list[Received]) -> Failures:
        """On the owner: each event to the supply desk; a failure is that event's alone."""
        failures: Failures = []
        for received in batch:
            try:
                if isinstance(received.event, ChargeRequest):
                    self._supplies.charge_request(received.event)
                else:
                    self._supplies.cp_event(received.event, self._refuser(received))
            except ForeignSession as exc:  # an insider's or a broken engine's: refused
                self._refuse_foreign(received, exc)
            except Exception as exc:  # a bug: this event is dead-lettered, the rest go on
                log.exception("handling %s failed", type(received.event).__name__)
                failures.append((received, exc))
        return failures

    def _refuser(self, received: Received) -> Callable[[ForeignSession], None]:
        """How a refusal decided later (the database asked first) is dealt with."""
        return lambda exc: self._refuse_foreign(received, exc)

    def _refuse_foreign(self, received: Received, exc: ForeignSession) -> None:
        """A session event that named another CP's (or no) session: dead-lettered, audited
        and shown like a value that did not open (docs/security.md)."""
        refusal = Refusal(
            topic=received.topic,
            partition=received.partition,
            offset=received.offset,
            key=received.key,
            reason=str(exc),
            kid=cp_kid(exc.cp_id),
            action="forged_event",
        )
        self.kafka.refuse(received, received.event.to_json(), refusal)
