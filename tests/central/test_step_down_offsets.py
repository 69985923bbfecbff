"""Found by evc-chaos (seed 2027, docs/reliability.md): central-b, thawed after a SIGSTOP,
handled a driver's charge_request in the very moment it stepped down (its lease had run out
while frozen). Its answer was dropped by the deposed Central's gate, yet the request's offset
was stored and committed, so the new active never read it: the request was never answered.
A batch handled while the Central was being deposed is now left unstored (its durable future
never completes); the next active reads it again."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

from central_app.config import CentralConfig
from central_app.kafka_input import KafkaInput
from central_app.pair_role import PairRole
from wire.kafka.consumer import Handled, Received
from wire.kafka.messages import ChargeRequest


def _input(tmp_path: Path, *, holds: bool, handle: object) -> tuple[KafkaInput, PairRole]:
    """The Kafka input of a paired Central whose lease ``holds`` (or not), its owner replaced
    by ``handle`` (what handling the batch on the owner does)."""
    cfg = CentralConfig(port=0, kafka="127.0.0.1:9", db_url=f"sqlite:///{tmp_path / 'c.db'}")
    pair = PairRole(cfg, threading.Event())
    pair.leadership = SimpleNamespace(holds=lambda now: holds)  # type: ignore[assignment]
    owner = SimpleNamespace(in_chunks=lambda batch, _: handle(batch))  # type: ignore[operator]
    kafka = SimpleNamespace(dropped=0)
    writer = SimpleNamespace(backlog=0)
    settled: Future[None] = Future()
    settled.set_result(None)  # no event of the batch waits for the database
    supplies = SimpleNamespace(settled=lambda: settled)
    return KafkaInput(owner, supplies, kafka, writer, pair), pair  # type: ignore[arg-type]


def _request() -> list[Received]:
    event = ChargeRequest(request_id="r-1", driver_id="D-003", cp_id="CP-07")
    return [Received("evc.requests", 3, 5, "CP-07", event)]


def test_a_request_handled_while_stepping_down_is_not_marked_done(tmp_path: Path) -> None:
    def handle_and_step_down(batch: list[Received]) -> list[tuple[Received, Exception]]:
        inputs.kafka.dropped += 1  # the denial met the closed gate
        pair.deposed.set()  # the owner's tick stepped down
        return []

    inputs, pair = _input(tmp_path, holds=False, handle=handle_and_step_down)
    handled = inputs.on_kafka(_request())
    assert isinstance(handled, Handled) and handled.durable is not None
    time.sleep(0.1)
    assert not handled.durable.done()  # its offset is never stored


def test_an_active_central_still_marks_its_batches_done(tmp_path: Path) -> None:
    inputs, _ = _input(tmp_path, holds=True, handle=lambda batch: [])
    handled = inputs.on_kafka(_request())
    assert handled.durable is None or handled.durable.done()
