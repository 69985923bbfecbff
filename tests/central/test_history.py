"""The history's queries, timelines, export and ``evc-admin sessions/report`` against a
database holding a known set of tickets, and the state changes a running Central records."""

from __future__ import annotations

import io
import json

import pytest

from central_app import admin
from central_app.billing import TicketData
from central_app.db import open_database
from central_app.history import (
    NO_RECORD,
    History,
    PeriodError,
    SessionFilter,
    StateChange,
    availability,
    energy_per_hour,
    parse_when,
    read_csv,
    simultaneous,
    state_counts,
    write_csv,
)
from central_app.store import Store
from tests.central.conftest import client, register_and_auth
from tests.waiting import wait_for

# (session, cp, driver, kWh, €, started, ended, reason)
KNOWN = [
    ("s1", "CP-01", "D-001", 10.0, 3.5, "2026-11-20T08:00:00.000Z", "2026-11-20T09:00:00.000Z", "unplugged"),
    ("s2", "CP-01", "D-002", 4.0, 1.4, "2026-11-20T08:30:00.000Z", "2026-11-20T08:45:00.000Z", "fault"),
    ("s3", "CP-02", "D-001", 7.5, 3.0, "2026-11-21T10:00:00.000Z", "2026-11-21T10:30:00.000Z", "unplugged"),
    ("s4", "CP-03", "D-003", 2.0, 0.9, "2026-11-22T23:50:00.000Z", "2026-11-23T00:10:00.000Z", "stopped"),
]  # fmt: skip


@pytest.fixture
def db_url(db_url: str) -> str:
    """The conftest's database (SQLite, PostgreSQL, MariaDB) with the KNOWN tickets: the
    history's queries on each."""
    url = db_url
    db = open_database(url)
    store = Store(db)
    for cp in ("CP-01", "CP-02", "CP-03", "CP-04"):
        store.add_cp(cp, "Harbour", 1.0, 2.0, 0.35, "test")
    for sid, cp, drv, kwh, eur, a, b, why in KNOWN:
        assert store.issue_ticket(TicketData(sid, cp, drv, kwh, eur, a, b, why))
    # an authorization that never became a supply is not a ticket
    store.create_session(
        cp_id="CP-04", session_id="s5", request_id=None, driver_id="D-001", origin="app",
        price=0.35, authorized_at=KNOWN[0][5], expires_at=KNOWN[0][6],
    )  # fmt: skip
    db.dispose()
    return url


@pytest.fixture
def history(db_url: str) -> History:
    return History(open_database(db_url))


def test_filters_change_rows_and_totals(history: History) -> None:
    everything = history.totals()
    assert (everything.sessions, everything.kwh, everything.eur) == (4, 23.5, pytest.approx(8.8))
    only_cp1 = SessionFilter(cp_id="CP-01")
    assert [r.session_id for r in history.page(only_cp1)] == ["s1", "s2"]  # newest end first
    assert history.totals(only_cp1).kwh == 14.0
    assert history.totals(SessionFilter(driver_id="D-001")).sessions == 2
    day = SessionFilter(
        since=parse_when("2026-11-21"), until=parse_when("2026-11-21", end_of_day=True)
    )
    assert [r.session_id for r in history.page(day)] == ["s3"]
    assert history.totals(SessionFilter(reason="fault")).eur == 1.4
    assert [r.session_id for r in history.page(sort="kwh", descending=False)] == [
        "s4",
        "s2",
        "s3",
        "s1",
    ]
    assert [r.session_id for r in history.page(offset=1, limit=2)] == ["s3", "s1"]
    assert history.page(only_cp1)[0].duration_s == 3600.0


def test_reports_per_cp_and_day(history: History) -> None:
    report = {r.cp_id: r for r in history.cp_report()}
    assert (report["CP-01"].sessions, report["CP-01"].kwh) == (2, 14.0)
    assert report["CP-04"].sessions == 0  # registered, never ticketed: listed all the same
    days = history.per_day("CP-01")
    assert [(d.day, d.sessions, d.eur) for d in days] == [("2026-11-20", 2, pytest.approx(4.9))]


def test_csv_export_round_trips(history: History) -> None:
    out = io.StringIO()
    written = write_csv(history.sessions(), out)
    back = read_csv(io.StringIO(out.getvalue()))
    assert back == list(history.sessions())
    assert (len(back), sum(r.kwh for r in back), sum(r.eur for r in back)) == (
        written.sessions, written.kwh, written.eur,
    )  # fmt: skip
    assert written == history.totals()


def test_timelines() -> None:
    t = "2026-11-20T{}:00:00.000Z".format
    changes = [
        StateChange(t("02"), "CP-01", "BROKEN", "engine KO"),
        StateChange(t("03"), "CP-01", "ACTIVE"),
    ]
    shares = availability(changes, "ACTIVE", t("00"), t("04"))
    assert shares == {"ACTIVE": 0.75, "BROKEN": 0.25}
    assert availability([], None, t("00"), t("01")) == {NO_RECORD: 1.0}
    # two supplies overlapping between 01:30 and 02:00, the third alone later
    runs = [(t("01"), t("02")), ("2026-11-20T01:30:00.000Z", t("03")), (t("05"), t("06"))]
    peaks = [n for _, n in simultaneous(runs, t("00"), t("06"), buckets=6)]
    assert peaks == [0, 2, 1, 0, 0, 1]
    hours = energy_per_hour([(t("01"), t("03"), 10.0)], t("00"), t("04"))
    assert [round(k, 6) for _, k in hours] == [0.0, 5.0, 5.0, 0.0]
    _, series = state_counts({"CP-01": "ACTIVE", "CP-02": "ACTIVE"}, changes, t("00"), t("04"), 4)
    assert series["ACTIVE"] == [2.0, 2.0, 1.0, 2.0]
    assert series["BROKEN"] == [0.0, 0.0, 1.0, 0.0]


def _admin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = admin.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_admin_sessions_prints_exactly_the_known_tickets(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _admin(capsys, "--db", db_url, "sessions")
    assert code == 0
    rows = read_csv(io.StringIO(out))
    expected = sorted(KNOWN, key=lambda k: k[6])  # oldest end first
    assert [(r.session_id, r.cp_id, r.driver_id, r.kwh, r.eur, r.started_at, r.ended_at, r.reason) for r in rows] == expected  # fmt: skip
    code, out, _ = _admin(
        capsys, "--db", db_url, "sessions", "--cp", "CP-01", "--since", "2026-11-20",
        "--until", "2026-11-20", "--format", "json",
    )  # fmt: skip
    assert code == 0
    assert [item["session_id"] for item in json.loads(out)] == ["s2", "s1"]
    code, out, _ = _admin(capsys, "--db", db_url, "sessions", "--driver", "D-003")
    assert [r.session_id for r in read_csv(io.StringIO(out))] == ["s4"]


def test_admin_report_and_bad_dates(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _admin(capsys, "--db", db_url, "report", "--since", "2026-11-21")
    assert code == 0
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert lines["CP-02"][1:4] == ["1", "7.500", "3.00"]
    assert lines["CP-01"][1] == "0"
    assert lines["total"][1:4] == ["2", "9.500", "3.90"]
    with pytest.raises(SystemExit) as exit_:
        admin.main(["--db", db_url, "sessions", "--since", "last tuesday"])
    assert exit_.value.code == 2
    assert "not a date: 'last tuesday'" in capsys.readouterr().err
    with pytest.raises(PeriodError):
        parse_when("2026-13-01")


def test_running_central_records_state_changes_and_audited_price(central) -> None:  # type: ignore[no-untyped-def]
    history = central.history()
    assert history is not None
    c = client(central)
    register_and_auth(c, "CP-90")
    since, until = "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z"

    def states() -> list[str]:
        return [s.status for s in history.state_changes("CP-90", since, until)]

    wait_for(lambda: states() == ["DISCONNECTED", "ACTIVE"] or states() == ["ACTIVE"], 10)
    c.close()
    wait_for(lambda: states()[-1:] == ["DISCONNECTED"], 10)
    # every seeded CP was recorded once (DISCONNECTED at start), not once per report
    assert len(history.state_changes("CP-01", since, until)) == 1

    central.set_price("CP-90", 0.55)
    assert any(v.cp_id == "CP-90" and v.price == 0.55 for v in central.snapshot())
    wait_for(lambda: history.price("CP-90") == 0.55, 10)
    store = Store(central.db)
    assert any(a == "cp_price" and "CP-90" in d for _, _, a, d in store.audit_entries(10))
    with pytest.raises(ValueError):
        central.set_price("CP-90", 0.0)
