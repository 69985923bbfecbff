"""The technician panel's Messages log and the engine's log lines (issue 23): a log scrolled
to its end stays at its end (FAULT and Repaired were left below the visible part), one the
technician scrolled up stays put; every line also reaches stdout, the engine's log file, with
the window or without (engine-*.log was empty). No broker needed: nothing is sent."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cp_node.console import run_console
from cp_node.engine_service import EngineService
from cp_node.panel import EnginePanel
from wire.kafka.topics import Topics

LONG = "authorized D-001: plug in within 30 s; a line long enough to wrap in a narrow panel"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EngineService]:
    svc = EngineService(
        bootstrap="127.0.0.1:1", port=0, topics=Topics(), journal_dir=tmp_path, insecure=True
    )
    yield svc
    svc.close()


def last_line_visible(panel: EnginePanel) -> bool:
    log = panel.log
    block = log.document().lastBlock()
    rect = log.blockBoundingGeometry(block).translated(log.contentOffset())
    return rect.bottom() <= log.viewport().height() + 1 and rect.top() >= 0


def test_the_log_follows_new_lines_even_those_added_before_it_was_shown(qtbot, service) -> None:
    for i in range(25):  # while the panel is hidden (the engine's first lines)
        service.say(f"{i:02d} {LONG}")
    echo = io.StringIO()
    panel = EnginePanel(service, echo=echo)
    qtbot.addWidget(panel)
    panel.resize(600, 640)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: last_line_visible(panel))
    service.say("FAULT: fault injected by technician (HEALTH answers KO)")
    panel.refresh()
    service.say("Repaired: HEALTH answers OK again")
    panel.refresh()
    bar = panel.log.verticalScrollBar()
    qtbot.waitUntil(lambda: last_line_visible(panel) and bar.value() == bar.maximum())
    assert panel.log.document().lastBlock().text().endswith("HEALTH answers OK again")
    # and each line went to the log file too, once
    lines = echo.getvalue().splitlines()
    assert len(lines) == 27 and lines[-2].endswith("(HEALTH answers KO)")


def test_a_log_scrolled_up_stays_where_it_is(qtbot, service) -> None:
    panel = EnginePanel(service)
    qtbot.addWidget(panel)
    panel.resize(600, 640)
    panel.show()
    qtbot.waitExposed(panel)
    for i in range(40):
        service.say(f"{i:02d} {LONG}")
    panel.refresh()
    bar = panel.log.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 10 and bar.value() == bar.maximum())
    bar.setValue(3)  # the technician reads an earlier line
    for i in range(5):
        service.say(f"later {i}")
        panel.refresh()
    assert bar.value() == 3 and not panel.follow.following
    bar.setValue(bar.maximum())  # back at the end: following again
    service.say("newest")
    panel.refresh()
    qtbot.waitUntil(lambda: last_line_visible(panel))
    assert panel.log.document().lastBlock().text().endswith("newest")


def test_without_a_terminal_the_engine_prints_its_log_lines(service) -> None:
    stop = threading.Event()
    out = io.StringIO()
    service.say("Vehicle plugged in: supplying driver D-001")
    thread = threading.Thread(
        target=run_console, args=(service, stop), kwargs={"stdin": io.StringIO(), "out": out}
    )
    thread.start()
    service.say("Vehicle unplugged: 1.234 kWh, 0.43 EUR")
    stop.set()
    thread.join(5)
    text = out.getvalue()
    assert "supplying driver D-001" in text and "Vehicle unplugged: 1.234 kWh" in text
