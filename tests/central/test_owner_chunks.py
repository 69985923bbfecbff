"""A Kafka batch handled on the owner in chunks (``central_app.owner.ChunkedRun``): every event once,
in order, between socket callbacks; and freed by reference counting when done. A batch kept
alive until the cyclic collector ran made that collector stop every thread of Central for
10-70 ms at 10,000 CPs (docs/performance.md)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from central_app.owner import OWNER_CHUNK, ChunkedRun


class Marker:
    """Stands for a received event (weak-referenceable)."""


def run_on_loop(batch: list[Any], handle: Any) -> tuple[list[Any], list[int]]:
    loop = asyncio.new_event_loop()
    interleaved: list[int] = []
    try:
        run = ChunkedRun(loop, batch, handle)
        loop.call_soon(run.step, 0)
        loop.call_soon(lambda: interleaved.append(len(seen)))  # a callback ready meanwhile
        for _ in range(10 * len(batch) + 10):  # a bound, not a wait: each pass runs a chunk
            if run.done.done():
                return run.done.result(), interleaved
            loop.run_until_complete(asyncio.sleep(0))
        raise AssertionError("the chunked run did not finish")
    finally:
        loop.close()


seen: list[Any] = []


def test_every_event_once_in_order_with_other_callbacks_between_chunks() -> None:
    seen.clear()
    batch = list(range(OWNER_CHUNK * 3 + 5))

    def handle(chunk: list[Any]) -> list[Any]:
        seen.extend(chunk)
        return [(e, ValueError("odd")) for e in chunk if e == 7]

    failures, interleaved = run_on_loop(batch, handle)
    assert seen == batch
    assert [e for e, _ in failures] == [7]
    assert interleaved and interleaved[0] < len(batch)  # ran before the whole batch was done


def test_a_handled_batch_is_freed_without_the_cyclic_collector() -> None:
    batch = [Marker() for _ in range(OWNER_CHUNK + 1)]
    refs = [weakref.ref(m) for m in batch]
    gc.collect()
    gc.disable()
    try:
        run_on_loop(batch, lambda chunk: [])
        del batch
        assert all(r() is None for r in refs), "the batch outlived its run: a reference cycle"
    finally:
        gc.enable()
