"""The control center never waits on the database (issue 22, item 5): the History window
and the CP detail read on the reader's thread, so with a slow or locked database the window
keeps painting and answering, says "loading…", then shows the result — or says in a line
what went wrong, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest

from central_app.gui.history import CpDetailDialog, HistoryWindow
from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.history import History, ReadTimeouts
from tests.gui.conftest import event_loop_turns
from tests.gui.test_history import _rows, history, settle  # noqa: F401  (the fixture)

#: where the screenshots of the History window go (``make screenshots`` and reviewers)
SHOTS = os.environ.get("EVC_SCREENSHOTS")


class GatedHistory(History):
    """Every query waits for ``gate`` first: a database that takes as long as a test wants."""

    def __init__(self, base: History) -> None:
        super().__init__(base.db)
        self.gate = threading.Event()
        self.waiting = 0

    def _rows(self, query):  # type: ignore[no-untyped-def]
        self.waiting += 1
        assert self.gate.wait(10), "the test never opened the gate"
        return super()._rows(query)


def _shot(widget, tmp_path: Path, name: str) -> Path:
    path = Path(SHOTS or tmp_path) / f"history-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(path))
    return path


def test_the_history_window_stays_responsive_while_the_database_is_slow(
    qtbot,
    history: History,  # noqa: F811
    tmp_path: Path,
) -> None:
    slow = GatedHistory(history)
    window = HistoryWindow(slow)  # built at once: it asks, it does not wait
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    sessions, report = window.sessions, window.report
    assert sessions.totals.text() == LOADING
    assert report.summary.text() == LOADING
    assert sessions.model.rowCount() == 0

    event_loop_turns(qtbot)  # while the query waits
    assert slow.waiting == 1  # one reader thread: the next queries wait their turn
    assert sessions.totals.text() == LOADING
    assert sessions.placeholder.isVisible()  # said over the empty table too
    sessions.driver.setText("D-001")  # the operator can still type: the window answers
    sessions.driver.editingFinished.emit()
    assert sessions.driver.text() == "D-001"
    loading = _shot(window, tmp_path, "loading")

    slow.gate.set()
    assert _rows(qtbot, sessions.model) == ["s3", "s1"]  # the filter typed meanwhile
    settle(qtbot, window.reader)
    assert sessions.totals.text() == "2 sessions · 17.5 kWh · 6.50 €"
    assert not sessions.placeholder.isVisible()
    assert report.summary.text().startswith("6 charging points, last 7 days") or (
        "charging points" in report.summary.text()
    )
    assert loading.exists() and _shot(window, tmp_path, "after").exists()


def test_a_newer_filter_replaces_an_older_one_still_waiting(
    qtbot,
    history: History,  # noqa: F811
) -> None:
    slow = GatedHistory(history)
    window = HistoryWindow(slow)
    qtbot.addWidget(window)
    panel = window.sessions
    for cp in ("CP-01", "CP-02", "CP-03"):  # typed while the database is slow
        panel.cp.setCurrentText(cp)
    slow.gate.set()
    assert _rows(qtbot, panel.model) == ["s2", "s1"]  # CP-03's: the last asked
    settle(qtbot, window.reader)
    assert panel.totals.text() == "2 sessions · 14.0 kWh · 4.90 €"
    # the stale asks for CP-01 and CP-02 were skipped, not run
    assert slow.waiting < window.reader.asked


def _lock_exclusively(path: str) -> sqlite3.Connection:
    """Another program holding the SQLite file: no reader gets in until it lets go."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("DELETE FROM audit_log WHERE 0")
    return locker


def test_a_locked_database_is_said_in_the_window_and_refresh_reads_it_later(
    qtbot,
    history: History,  # noqa: F811
    tmp_path: Path,
) -> None:
    history.db.dispose()  # only the locker and the window's reader on the file
    locker = _lock_exclusively(str(history.db.engine.url.database))
    reader = HistoryReader(
        history.timed(ReadTimeouts(connect_s=1.0, statement_s=1.0)), owns_history=True
    )
    window = HistoryWindow(reader)
    qtbot.addWidget(window)
    window.show()
    assert window.sessions.totals.text() == LOADING  # shown without waiting for the lock
    qtbot.waitUntil(lambda: window.sessions.totals.text() != LOADING, timeout=8000)
    said = window.sessions.totals.text()
    assert said == (
        "Reading the history failed: the database stayed locked for 1 s (another program "
        "is writing to it). Refresh to try again."
    )
    assert "Traceback" not in said
    _shot(window, tmp_path, "locked")

    locker.execute("ROLLBACK")
    locker.close()
    window.sessions.refresh_button.click()
    qtbot.waitUntil(lambda: "4 sessions" in window.sessions.totals.text(), timeout=8000)
    reader.close()


def test_the_cp_detail_opens_at_once_on_a_slow_database(
    qtbot,
    history: History,  # noqa: F811
) -> None:
    slow = GatedHistory(history)
    dialog = CpDetailDialog(slow, "CP-03")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.summary.text() == LOADING
    event_loop_turns(qtbot)
    assert dialog.summary.text() == LOADING and slow.waiting == 1
    dialog.period.set_days(date(2026, 11, 20), date(2026, 11, 20))
    slow.gate.set()
    settle(qtbot, dialog.reader)
    assert "2 sessions · 14.0 kWh · 4.90 €" in dialog.summary.text()
    assert dialog.availability.shares == pytest.approx({"ACTIVE": 17 / 24, "BROKEN": 7 / 24})
