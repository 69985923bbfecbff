"""EV_Web driven by a real Central: a CP's engine and monitor connect (Central publishes it
ACTIVE), then the operator stops it on Central's console; the page follows each change.
Real processes throughout (``tests.e2e.harness``), on the session's PLAINTEXT broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Network, Observer
from tests.waiting import wait_for
from tests.web.test_browser import _marker_fill, _rgb, _states
from web_app.board import LOOKS
from wire.kafka.topics import Topics

pytestmark = [pytest.mark.process, pytest.mark.slow]

CP = "CP-W01"
CHANGE_DEADLINE_S = 2.0


@pytest.fixture
def central_network(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[Network]:
    network = Network(kafka_bootstrap, topics, tmp_path / "net")  # --insecure everywhere
    try:
        yield network
    finally:
        network.close()


def test_the_page_follows_centrals_stop_within_2_s(
    browser, ev_web: str, central_network: Network, kafka_bootstrap: str, topics: Topics
) -> None:  # type: ignore[no-untyped-def]
    observer = Observer(kafka_bootstrap, topics, None, None)
    try:
        central = central_network.start_central(stdin_pipe=True)
        central_network.add_cp(CP)
        engine = central_network.start_engine(CP)
        engine.wait_line("Engine listening for its monitor", 20)
        central_network.start_monitor(CP, "--x", "470", "--y", "360")
        observer.wait_status(CP, "ACTIVE", 30)
        browser.get(ev_web)
        wait_for(lambda: _states(browser).get(CP) == ("available", "Available"), 20, "ACTIVE")

        central.send_line(f"stop {CP}")
        observer.wait_status(CP, "STOPPED", 10)
        stopped_at = observer.events("cp_state", cp_id=CP, status="STOPPED")
        seen = [s.at for s in observer.seen if s.event in stopped_at][0]
        orange = _rgb(next(look.fill for a, look in LOOKS.items() if a.value == "out_of_order"))
        wait_for(
            lambda: (
                _states(browser).get(CP) == ("out_of_order", "Out of order")
                and _marker_fill(browser, CP) == orange
            ),
            CHANGE_DEADLINE_S,
            f"{CP} to read Out of order in orange",
        )
        assert time.monotonic() - seen < CHANGE_DEADLINE_S
    finally:
        observer.close()
    assert central_network.tracebacks() == []
