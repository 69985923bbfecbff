"""``chaos.collect.sessions_from_database`` reads Central's ``sessions`` rows by the columns'
names (chaos imports no Central module): the names must stay those of Central's schema."""

from __future__ import annotations

from pathlib import Path

from central_app.db import SessionRow, open_database
from chaos.collect import SESSIONS, sessions_from_database
from wire.books import Row


def test_the_sessions_named_by_chaos_are_centrals_columns() -> None:
    assert {c.name for c in SESSIONS.c} <= {c.name for c in SessionRow.__table__.c}


def test_a_ticketed_session_reads_back_as_the_checker_sees_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = open_database(url)
    try:
        with db.Session.begin() as s:
            s.add(
                SessionRow(
                    session_id="s-1", request_id="r-1", driver_id="D-1", cp_id="CP-1",
                    origin="app", price=0.3, authorized_at="2026-01-01T00:00:00.000Z",
                    expires_at="2026-01-01T00:01:00.000Z", ended_at="2026-01-01T00:05:00.000Z",
                    kwh=1.5, eur=0.45, status="ticketed", meter_kwh=1.5, provisional=True,
                )
            )  # fmt: skip
    finally:
        db.dispose()
    [read] = sessions_from_database(url)
    assert read.row == Row(
        "s-1", "CP-1", "D-1", "ticketed", 0.3, 1.5, 0.45, 1.5, None,
        "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z", "2026-01-01T00:05:00.000Z",
    )  # fmt: skip
    assert (read.request_id, read.origin, read.provisional) == ("r-1", "app", True)
