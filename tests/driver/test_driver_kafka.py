"""The driver core against the real broker, with a scripted Central on the real topics."""

from __future__ import annotations

import time
import uuid

import pytest

from driver_app.services import Outcome, RunState, ServiceEntry, parse_services
from driver_app.session import CANNOT_REACH_CENTRAL
from tests.waiting import wait_for
from wire.kafka.messages import (
    AuthorizedNotice,
    RequestReceived,
    SupplyProgressNotice,
    SupplyStartedNotice,
)
from wire.kafka.partitioner import partition_for
from wire.timefmt import now_ts, parse_ts

pytestmark = pytest.mark.kafka


def _loaded(runtime) -> None:
    wait_for(lambda: runtime.core.network_loaded, 15, "network view replayed")


def test_request_received_authorized_supplying_ticket(central, start_driver):
    central.publish_seed()
    central.set_alive(True)
    central.on_request = central.full_supply
    runtime, rec = start_driver("D-001")
    wait_for(lambda: len(rec.cps) == 4, 15, "4 CPs in the network view")
    wait_for(lambda: rec.central and rec.central[-1].key == "online", 10, "Central online")

    assert runtime.request("CP-01").result(5) is None
    wait_for(lambda: "finished" in rec.phases(), 15, "the ticket")

    assert rec.phases() == ["requested", "received", "authorized", "supplying", "finished"]
    assert [v.kwh for v in rec.progress] == [pytest.approx(0.1), pytest.approx(0.2)]
    texts = [step.text for _, step in rec.steps]
    assert texts[2] == "authorized — plug in at CP-01 (Harbour)"
    assert len(rec.tickets) == 1 and rec.tickets[0][1] is True
    (request,) = central.requests_for("D-001")
    assert request.cp_id == "CP-01" and request.origin == "app"
    assert runtime.core.history.path.read_text().count("\n") == 1


def test_restart_resumes_from_committed_offset_and_shows_the_ticket(
    central, start_driver, tmp_path
):
    central.publish_seed()
    central.set_alive(True)
    runtime, rec = start_driver("D-003")
    _loaded(runtime)
    runtime.request("CP-02").result(5)
    wait_for(lambda: central.requests_for("D-003"), 10, "the request at Central")
    (request,) = central.requests_for("D-003")
    session_id = uuid.uuid4().hex
    base = {"driver_id": "D-003", "cp_id": "CP-02"}
    central.notice(RequestReceived(request_id=request.request_id, **base))
    central.notice(
        AuthorizedNotice(
            request_id=request.request_id, session_id=session_id, expires_at=now_ts(), **base
        )
    )
    started = now_ts()
    central.notice(
        SupplyStartedNotice(
            session_id=session_id, started_at=started, request_id=request.request_id, **base
        )
    )
    wait_for(lambda: "supplying" in rec.phases(), 10, "supplying before the restart")
    runtime.stop()  # the driver app is closed mid-supply (close commits what it handled)
    assert not runtime.running

    # Meanwhile the supply goes on and ends.
    central.notice(SupplyProgressNotice(session_id=session_id, kw=7.0, kwh=0.5, eur=0.2, **base))
    central.notice(central.ticket_for(request, session_id, started, ticks=5))

    runtime2, rec2 = start_driver("D-003")  # same id, same data dir
    wait_for(lambda: rec2.tickets, 15, "the ticket after the restart")
    # It resumed after the committed offset: the steps seen before closing are not replayed.
    assert rec2.phases() == ["supplying", "finished"]
    view = rec2.steps[-1][0]
    assert view.resumed and view.session_id == session_id and view.ticket.kwh == 0.5
    assert [t.session_id for t in runtime2.core.history.tickets()] == [session_id]


def test_duplicate_ticket_is_ignored(central, start_driver):
    central.publish_seed()
    runtime, rec = start_driver("D-004")
    _loaded(runtime)
    runtime.request("CP-03").result(5)
    wait_for(lambda: central.requests_for("D-004"), 10, "the request")
    (request,) = central.requests_for("D-004")
    session_id = central.full_supply(request)
    wait_for(lambda: rec.tickets, 10, "the first ticket")
    ticket = central.ticket_for(request, session_id, now_ts())
    central.notice(ticket)  # delivered twice
    marker = central.ticket_for(request, uuid.uuid4().hex, now_ts())
    central.notice(marker)  # a later, different ticket proves the duplicate was processed
    wait_for(lambda: len(rec.tickets) == 2, 10, "the marker ticket")
    assert [t.session_id for t, _ in rec.tickets] == [session_id, marker.session_id]
    finished = [v.session_id for v, step in rec.steps if step.phase == "finished"]
    assert finished == [session_id, marker.session_id]
    assert len(runtime.core.history.tickets()) == 2


def test_unanswered_request_times_out_with_cannot_reach_central(central, start_driver):
    # The timeout is configurable (--request-timeout); 2 s here instead of the default 10 s.
    central.publish_seed()
    runtime, rec = start_driver("D-005", request_timeout_s=2.0)
    _loaded(runtime)
    sent = time.monotonic()
    runtime.request("CP-01").result(5)
    wait_for(lambda: "timed_out" in rec.phases(), 10, "the timeout")
    elapsed = time.monotonic() - sent
    assert 1.9 <= elapsed <= 3.5
    view, step = rec.steps[-1]
    assert CANNOT_REACH_CENTRAL in step.text and view.reason == CANNOT_REACH_CENTRAL
    # With no central_alive at all, the indicator says so too.
    wait_for(lambda: rec.central and rec.central[-1].key == "unreachable", 10, "indicator")
    assert rec.central[-1].text.startswith("Cannot reach CENTRAL")


def test_services_file_pauses_four_seconds_between_entries(central, start_driver):
    central.publish_seed()
    central.set_alive(True)
    central.on_request = central.full_supply
    runtime, rec = start_driver("D-006")  # the real default pause of 4 s
    _loaded(runtime)
    entries = parse_services("# two requests\nCP-01\n\nCP-02  # second\n")
    assert runtime.run_file("test.txt", entries).result(5) is None
    wait_for(lambda: rec.last_run() and rec.last_run().finished, 30, "the run's end")

    run = rec.last_run()
    assert run.state is RunState.DONE and [r.outcome for r in run.results] == [
        Outcome.FINISHED,
        Outcome.FINISHED,
    ]
    steps = [step for _, step in rec.steps]
    first_end = next(s for s in steps if s.phase == "finished")
    second_request = [s for s in steps if s.phase == "requested"][1]
    gap = (parse_ts(second_request.at) - parse_ts(first_end.at)).total_seconds()
    assert 3.9 <= gap <= 5.0, gap
    assert "ran all 2 entries" in run.summary()


def test_unknown_id_in_a_file_is_reported_and_skipped(central, start_driver):
    central.publish_seed()
    central.on_request = central.full_supply
    runtime, rec = start_driver("D-007", pause_s=0.2)
    _loaded(runtime)
    entries = [ServiceEntry(1, "CP-01"), ServiceEntry(2, "CP-99"), ServiceEntry(3, "CP-02")]
    runtime.run_file("mixed.txt", entries).result(5)
    wait_for(lambda: rec.last_run() and rec.last_run().finished, 30, "the run's end")
    run = rec.last_run()
    assert [r.outcome for r in run.results] == [
        Outcome.FINISHED,
        Outcome.SKIPPED,
        Outcome.FINISHED,
    ]
    assert "line 2: unknown CP id 'CP-99' — skipped" in rec.reports
    assert [r.cp_id for r in central.requests_for("D-007")] == ["CP-01", "CP-02"]
    assert "1 skipped" in run.summary()


def test_a_driver_sees_only_its_own_notices(central, start_driver):
    # D-001 and D-015 share a partition of evc.driver.notices; D-002 is in another one.
    assert partition_for("D-001", 12) == partition_for("D-015", 12)
    assert partition_for("D-002", 12) != partition_for("D-001", 12)
    central.publish_seed()
    runtime, rec = start_driver("D-001")
    _loaded(runtime)
    for other in ("D-015", "D-002"):
        central.notice(RequestReceived(request_id=f"r-{other}", cp_id="CP-01", driver_id=other))
        central.notice(
            SupplyProgressNotice(
                session_id=f"s-{other}", cp_id="CP-01", driver_id=other, kw=1.0, kwh=1.0, eur=1.0
            )
        )
    runtime.request("CP-04").result(5)
    wait_for(lambda: central.requests_for("D-001"), 10, "the request")
    central.full_supply(central.requests_for("D-001")[0])
    wait_for(lambda: rec.tickets, 10, "own ticket")
    # Nothing of the others reached the core, not even the same-partition key's notices.
    assert set(runtime.notice_keys) == {"D-001"}
    assert all(view.cp_id == "CP-04" for view, _ in rec.steps)
    assert all(view.session_id not in ("s-D-015", "s-D-002") for view in rec.progress)
