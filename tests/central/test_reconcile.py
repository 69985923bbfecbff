"""Issue 21, item 3: ``evc-admin reconcile`` and Central's own periodic check of the books:
every ticket against its price and the meter's final reading (``sessions.meter_kwh``,
recorded by Central from every supply_ended it accepted)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update

from central_app import admin
from central_app.config import CentralConfig
from central_app.db import SessionRow, open_database
from central_app.reconcile import find_discrepancies
from central_app.runtime import CentralRuntime
from central_app.store import Store
from tests.central.conftest import Recorder
from tests.central.test_supplies import authorize, online, start_supply, supply_ended
from tests.central.test_supplies import world as world  # noqa: F401 (the fixture)
from tests.procs import free_port
from tests.waiting import wait_for


def _supply(desk, outbox, topics, rid: str, kwh: float) -> str:  # type: ignore[no-untyped-def]
    auth = start_supply(desk, outbox, topics, rid)
    desk.cp_event(supply_ended(auth.session_id, kwh))
    return auth.session_id


def _tamper(store: Store, session_id: str, **values: object) -> None:
    with store.db.engine.begin() as conn:
        conn.execute(update(SessionRow).where(SessionRow.session_id == session_id).values(**values))


def test_balanced_books_and_each_kind_of_discrepancy(world, capsys) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    good = _supply(desk, outbox, topics, "r1", 1.25)
    assert store.tickets(good)[0].kwh == 1.25
    assert find_discrepancies(store.db) == []  # the meter's reading is the ticket's
    url = store.db.url
    assert admin.main(["--db", url, "reconcile"]) == 0
    assert "0 discrepancies: the books balance" in capsys.readouterr().out

    underbilled = _supply(desk, outbox, topics, "r2", 0.369)
    _tamper(store, underbilled, kwh=0.123, eur=0.05)  # what issue 21's run found
    wrong_amount = _supply(desk, outbox, topics, "r3", 2.0)
    _tamper(store, wrong_amount, eur=0.01)
    found = {(d.session_id, d.kind): d for d in find_discrepancies(store.db)}
    assert set(found) == {
        (underbilled, "kwh_differs_from_meter"),
        (wrong_amount, "amount"),
    }
    assert (
        "ticket 0.123 kWh, the engine's final reading 0.369 kWh"
        in found[(underbilled, "kwh_differs_from_meter")].detail
    )
    assert admin.main(["--db", url, "reconcile", "--format", "json"]) == 1
    kinds = sorted(d["kind"] for d in json.loads(capsys.readouterr().out))
    assert kinds == ["amount", "kwh_differs_from_meter"]
    # a flagged ticket (an implausible reading was refused) is not a mismatch
    _tamper(store, underbilled, flag="implausible reading refused: …")
    assert [d.kind for d in find_discrepancies(store.db)] == ["amount"]


def test_metered_but_never_ticketed_and_stale_authorizations(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    sid = _supply(desk, outbox, topics, "r1", 1.0)
    _tamper(store, sid, status="supplying", kwh=None, eur=None)  # the ticket was lost
    auth = authorize(desk, outbox, topics, "r2")
    _tamper(store, auth.session_id, expires_at="2020-01-01T00:00:00.000Z")
    kinds = {(d.session_id, d.kind) for d in find_discrepancies(store.db)}
    assert kinds == {
        (sid, "metered_not_ticketed"),
        (auth.session_id, "authorization_never_closed"),
    }


def test_central_reconciles_by_itself_audits_and_shows_each_once(tmp_path: Path) -> None:
    recorder = Recorder()
    url = f"sqlite:///{tmp_path / 'central.db'}"
    runtime = CentralRuntime(
        CentralConfig(
            port=0,
            host="127.0.0.1",
            kafka=f"127.0.0.1:{free_port()}",
            db_url=url,
            topic_prefix="unit.",
            insecure=True,
            reconcile_every=0.5,
        )
    )
    runtime.add_listener(recorder)
    store = Store(open_database(url))
    runtime.start()
    try:
        with store.db.engine.begin() as conn:  # a ticket whose amount is not kWh x price
            conn.execute(
                SessionRow.__table__.insert().values(
                    session_id="s-bad",
                    cp_id="CP-01",
                    driver_id="D-001",
                    price=0.4,
                    authorized_at="2026-12-07T10:00:00.000Z",
                    ended_at="2099-01-01T00:00:00.000Z",
                    status="ticketed",
                    kwh=2.0,
                    eur=9.99,
                )
            )

        def audited() -> list[str]:
            return [d for _, _, a, d in store.audit_entries(50) if a == "books_discrepancy"]

        wait_for(lambda: audited(), 10, "the discrepancy audited")
        wait_for(lambda: any("amount: session s-bad" in e.text for e in recorder.logs), 5, "shown")
        rounds: list[int] = []
        upkeep = runtime.upkeep
        assert upkeep is not None
        check_books = upkeep.reconcile
        upkeep.reconcile = lambda: (rounds.append(1), check_books())[-1]  # type: ignore[method-assign]
        wait_for(lambda: len(rounds) >= 3, 10, "three more rounds")
        shown = [e for e in recorder.logs if "amount: session s-bad" in e.text]
        assert len(audited()) == 1 and len(shown) == 1  # once, not every round
    finally:
        runtime.stop()
