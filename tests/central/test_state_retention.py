"""The state history's retention (``--state-history-days``, issue 22 item 5): old rows of
``cp_state_changes`` go, each CP keeps its state at the cutoff, so availability and faults
over the kept period read the same after the prune as before it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from central_app import admin, state_log
from central_app.db import CpStateChangeRow, Database, open_database
from central_app.db_writer import InlineWriter
from central_app.history import History
from central_app.main import build_parser, config_from
from central_app.state_log import Pruning, prune_state_changes, retention_cutoff
from wire.timefmt import format_ts, utc_now

STATES = CpStateChangeRow.__table__

# (days ago, cp, status)
ROWS = [
    (200, "CP-B", "ACTIVE"),  # CP-B's only row: its state ever since
    (120, "CP-A", "ACTIVE"),
    (100, "CP-A", "BROKEN"),
    (95, "CP-A", "ACTIVE"),  # CP-A's state at a 90-day cutoff
    (60, "CP-A", "BROKEN"),
    (59, "CP-A", "ACTIVE"),
    (10, "CP-C", "ACTIVE"),
    (5, "CP-C", "BROKEN"),
]
#: what a 90-day retention leaves of ROWS
AFTER_90 = [
    ("CP-B", "ACTIVE"),
    ("CP-A", "ACTIVE"),
    ("CP-A", "BROKEN"),
    ("CP-A", "ACTIVE"),
    ("CP-C", "ACTIVE"),
    ("CP-C", "BROKEN"),
]


def _ago(days: float) -> str:
    return format_ts(utc_now() - timedelta(days=days))


def _fill(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(STATES),
            [{"ts": _ago(d), "cp_id": cp, "status": s, "reason": ""} for d, cp, s in ROWS],
        )


def _kept(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(STATES.c.cp_id, STATES.c.status).order_by(STATES.c.id))
        return [(r[0], r[1]) for r in rows]


def _views(history: History, since: str, until: str) -> list[object]:
    """What the control center shows of a period after the cutoff."""
    return [
        {cp: history.availability(cp, since, until) for cp in ("CP-A", "CP-B", "CP-C")},
        history.fault_counts(since, until),
        [history.faults(cp, since, until) for cp in ("CP-A", "CP-C")],
        history.network_states(since, until, 24),
    ]


def test_pruning_keeps_each_cps_state_at_the_cutoff(db_url: str) -> None:
    db = open_database(db_url)
    try:
        _fill(db)
        history = History(db)
        since, until = _ago(80), _ago(1)
        before = _views(history, since, until)
        deleted = prune_state_changes(db, retention_cutoff(90))  # type: ignore[arg-type]
        assert deleted == 2  # CP-A's rows of 120 and 100 days ago
        assert _kept(db) == AFTER_90
        assert _views(history, since, until) == before
        assert prune_state_changes(db, retention_cutoff(90)) == 0  # nothing more to do
    finally:
        db.dispose()


def test_centrals_pass_runs_a_chunk_per_writer_job(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    _fill(db)
    monkeypatch.setattr(state_log, "PRUNE_CHUNK", 2)
    jobs: list[str] = []
    writer = InlineWriter()

    def submit(job, *args):  # type: ignore[no-untyped-def]
        jobs.append(job.__name__)
        return writer.submit(job, *args)

    done = Pruning(submit, db, retention_cutoff(30)).start()  # type: ignore[arg-type]
    assert done.result(1) == 4  # CP-A's 120, 100, 95 and 60 days ago; 59 is its anchor
    assert jobs == ["anchors"] + ["prune_chunk"] * 4  # 6 old rows in chunks of 2, then none
    with db.engine.connect() as conn:
        old = conn.execute(select(func.count()).where(STATES.c.ts < _ago(30))).scalar()
    assert old == 2  # CP-A's and CP-B's states at the cutoff
    db.dispose()


def test_retention_option_and_evc_admin(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    for given, days in (([], 90), (["--state-history-days", "7"], 7)):
        args = build_parser().parse_args(["--port", "0", "--kafka", "x:1", *given])
        args.kafka_security = None  # main() fills it in from the credentials options
        assert config_from(args).state_history_days == days
    assert retention_cutoff(0) is None  # 0 keeps everything

    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = open_database(url)
    _fill(db)
    db.dispose()
    assert admin.main(["--db", url, "db", "prune", "--state-history-days", "0"]) == 0
    assert "kept whole" in capsys.readouterr().out
    assert admin.main(["--db", url, "db", "prune"]) == 0  # 90 days, like Central
    out = capsys.readouterr().out
    assert "2 state changes before" in out and "keeps its state at that moment" in out


def test_central_prunes_on_its_writer(central) -> None:  # type: ignore[no-untyped-def]
    """The timer's step (every 6 hours, first an hour after the start) on a running Central:
    the pass runs on the database writer and leaves each CP its state at the cutoff."""
    from tests.waiting import wait_for

    def ours() -> list[tuple[str, str]]:  # Central records its own CPs' states meanwhile
        return [r for r in _kept(central.db) if r[0] in ("CP-A", "CP-B", "CP-C")]

    assert central.config.state_history_days == 90
    _fill(central.db)
    central.owner.call(central.upkeep.prune_state_history)
    wait_for(lambda: len(ours()) == len(AFTER_90), 10, "the old rows pruned")
    assert ours() == AFTER_90
