"""Wire timestamps as the windows show them: the user's local clock, a bad one as it came."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from wire.timefmt import local_time


@pytest.fixture
def madrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone is Madrid's (UTC+1 in winter) while the test runs."""
    monkeypatch.setenv("TZ", "Europe/Madrid")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_wire_timestamp_reads_on_the_local_clock(madrid: None) -> None:
    assert local_time("2026-01-15T22:30:05.123Z") == "23:30:05"
    assert local_time("2026-01-15T22:30:05.123Z", "%d %b %H:%M") == "15 Jan 23:30"
    assert local_time("2026-01-31T23:30:00.000Z", "%Y-%m") == "2026-02"  # local month


@pytest.mark.parametrize("text", ["", "12:00:00", "2026-01-15T22:30:05", "not a time"])
def test_an_unreadable_timestamp_shows_as_it_came_or_as_asked(text: str) -> None:
    assert local_time(text) == text
    assert local_time(text, "%Y-%m", unreadable="????-??") == "????-??"
