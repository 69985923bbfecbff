"""The coalescing bridge: core-thread calls end in the GUI as few, paced batches.

Waits use ``qtbot.waitUntil`` with timeouts, never sleeps.
"""

from __future__ import annotations

import threading

from central_app.gui.bridge import CentralBridge
from central_app.gui.cp_model import Column
from central_app.views import CpStatus, LogEntry, LogLevel, RequestPhase, RequestView
from tests.gui.conftest import make_cp


def _in_thread(fn) -> None:
    worker = threading.Thread(target=fn)
    worker.start()
    worker.join()


def _ts(i: int) -> str:
    return f"2099-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z"


def test_many_calls_from_a_core_thread_end_with_the_latest_values(
    qtbot, qtmodeltester, window
) -> None:
    ids = [f"CP-{n}" for n in range(100, 600)]

    def core() -> None:  # 20 reports per CP, the newest last, as the core would send them
        for step in range(20):
            for cp_id in ids:
                window.bridge.cp_changed(
                    make_cp(
                        cp_id,
                        CpStatus.SUPPLYING,
                        driver_id="D-001",
                        kw=float(step),
                        updated_at=_ts(step),
                    )
                )

    _in_thread(core)
    model = window.model
    qtbot.waitUntil(lambda: model.rowCount() == 6 + len(ids), timeout=5000)
    qtbot.waitUntil(lambda: window.bridge.pending() == 0, timeout=5000)
    assert all(model.cp(cp_id).kw == 19.0 for cp_id in ids)
    assert model.index(model.row_of("CP-345"), Column.KW).data() == "19.0"
    assert window.state_counts.counts[CpStatus.SUPPLYING] == 1 + len(ids)
    assert window.bridge.calls == 20 * len(ids)
    assert window.bridge.drains < 50  # a handful of batches, not 10,000 queued signals
    assert window.map.tile("CP-345").tile_data.kw == 19.0
    qtmodeltester.check(model, force_py=True)


def test_a_storm_is_handed_over_in_paced_batches(qtbot) -> None:
    bridge = CentralBridge(interval_ms=20, max_batch=100, backlog_interval_ms=5)
    batches: list[int] = []
    seen: dict[str, CpStatus] = {}

    def on_batch(cps) -> None:
        batches.append(len(cps))
        seen.update((cp.cp_id, cp.status) for cp in cps)

    bridge.cpsChanged.connect(on_batch)

    def storm() -> None:
        for status in (CpStatus.DISCONNECTED, CpStatus.ACTIVE):
            for n in range(1000):
                bridge.cp_changed(make_cp(f"CP-{n}", status))

    _in_thread(storm)
    qtbot.waitUntil(lambda: len(seen) == 1000 and bridge.pending() == 0, timeout=5000)
    assert max(batches) <= 100 and len(batches) >= 10
    assert set(seen.values()) == {CpStatus.ACTIVE}  # the newest state of every CP


def test_a_log_burst_is_summarised_not_replayed(qtbot, window) -> None:
    def core() -> None:
        for i in range(5000):
            level = LogLevel.ERROR if i == 10 else LogLevel.INFO
            window.bridge.logged(LogEntry(f"burst line {i}", level, "CP-01"))

    _in_thread(core)
    panel = window.log_panel
    qtbot.waitUntil(lambda: "burst line 4999" in panel.plain_text(), timeout=5000)
    text = panel.plain_text()
    assert "more messages in this burst not shown" in text
    assert "1 errors" in text  # the dropped error is at least counted
    assert panel.view.document().blockCount() <= 200
    assert "burst line 100 " not in text + " "  # an old line was dropped, not shown


def test_request_bursts_keep_the_newest_phase_and_the_cap(qtbot, window) -> None:
    def core() -> None:
        for n in range(800):
            for phase in (RequestPhase.RECEIVED, RequestPhase.AUTHORIZED):
                window.bridge.request_changed(RequestView(f"R-{n}", "D-001", "CP-01", phase))

    _in_thread(core)
    requests = window.requests
    qtbot.waitUntil(lambda: requests.rowCount() == 500, timeout=5000)
    assert requests.request_at(0).request_id == "R-799"  # newest first
    assert all(requests.request_at(r).phase is RequestPhase.AUTHORIZED for r in range(500))
