"""The driver's domain without Kafka or Qt: session, services run, Central watch, history."""

from __future__ import annotations

import io
import json
import socket
from dataclasses import replace

from driver_app.central_watch import CentralWatch
from driver_app.console import ConsoleListener
from driver_app.core import DriverCore
from driver_app.history import TicketHistory
from driver_app.services import (
    Outcome,
    RunState,
    ServiceEntry,
    ServiceRun,
    parse_services,
)
from driver_app.session import ChargeSession, Phase, TicketInfo
from tests.driver.conftest import Recorder
from wire.health_messages import CentralLink
from wire.kafka.messages import (
    AuthorizedNotice,
    CentralAlive,
    ChargeRequest,
    CpState,
    Denied,
    RequestReceived,
    SupplyInterrupted,
    SupplyStartedNotice,
    Ticket,
)
from wire.states import Origin

BASE = {"cp_id": "CP-01", "driver_id": "D-001"}


def _ticket(session_id: str = "s1", request_id: str | None = "r1") -> Ticket:
    return Ticket(
        session_id=session_id,
        kwh=1.5,
        eur=0.6,
        started_at="2026-11-21T22:00:00.000Z",
        ended_at="2026-11-21T22:10:30.000Z",
        reason="unplugged",
        request_id=request_id,
        **BASE,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_session_times_out_then_accepts_a_late_answer():
    session = ChargeSession("r1", "CP-01", "D-001", created=0.0, timeout_s=10.0)
    session.start()
    assert session.tick(9.9) is None
    step = session.tick(10.0)
    assert step.phase == Phase.TIMED_OUT and "Cannot reach CENTRAL" in step.text
    assert session.apply(RequestReceived(request_id="r1", **BASE), 12.0).phase == Phase.RECEIVED
    assert session.tick(25.0).phase == Phase.TIMED_OUT  # still no authorization


def test_denied_and_interrupted_then_ticket():
    denied = ChargeSession("r1", "CP-01", "D-001", created=0.0)
    step = denied.apply(Denied(request_id="r1", reason="cp_not_available", **BASE), 1.0)
    assert step.text == "denied — charging point is not available" and denied.ended

    cut = ChargeSession("r2", "CP-01", "D-001", created=0.0)
    cut.apply(
        AuthorizedNotice(
            request_id="r2", session_id="s2", expires_at="2026-11-21T22:00:00.000Z", **BASE
        ),
        1.0,
    )
    step = cut.apply(
        SupplyInterrupted(session_id="s2", reason="fault", kwh=0.4, eur=0.1, **BASE), 2.0
    )
    assert step.phase == Phase.INTERRUPTED and "charging point fault" in step.text
    step = cut.apply(_ticket("s2", None), 3.0)
    assert cut.phase == Phase.INTERRUPTED and cut.ticket.kwh == 1.5 and "ticket" in step.text
    assert cut.apply(_ticket("s2", None), 4.0) is None  # one ticket per session


def test_a_fault_ticket_without_its_interrupted_notice_is_not_shown_as_finished():
    session = ChargeSession("r3", "CP-01", "D-001", created=0.0)
    session.apply(SupplyStartedNotice(session_id="s3", started_at="t0", request_id="r3", **BASE), 1)
    faulted = replace(_ticket("s3", "r3"), reason="fault")
    step = session.apply(faulted, 2.0)
    assert step.phase == Phase.INTERRUPTED and session.phase == Phase.INTERRUPTED
    assert step.text.startswith("interrupted — charging point fault, ticket — 1.500 kWh")
    unplugged = ChargeSession("r4", "CP-01", "D-001", created=0.0)
    assert unplugged.apply(_ticket("s4", "r4"), 1.0).phase == Phase.FINISHED


def test_parse_services_ignores_blanks_and_comments():
    text = "# header\n\nCP-01\n  CP-02   # trailing\n#CP-03\nCP-04 extra words\n"
    assert parse_services(text) == [
        ServiceEntry(3, "CP-01"),
        ServiceEntry(4, "CP-02"),
        ServiceEntry(6, "CP-04"),
    ]


def test_service_run_stop_after_current():
    run = ServiceRun("f", [ServiceEntry(1, "CP-01"), ServiceEntry(2, "CP-02")], started=0.0)
    entry, _ = run.next_entry(0.0, True, None, busy=False)
    assert entry.cp_id == "CP-01"
    run.started_request("r1")
    run.stop_after_current()
    session = ChargeSession("r1", "CP-01", "D-001", created=0.0)
    session.apply(Denied(request_id="r1", reason="cp_busy", **BASE), 1.0)
    result = run.request_ended(session.view(), 1.0)
    assert result.outcome is Outcome.DENIED
    assert run.state is RunState.STOPPED
    assert "stopped after 1 of 2" in run.view(2.0).summary()


def test_service_run_waits_for_the_network_then_skips_unknown_ids():
    run = ServiceRun(
        "f", [ServiceEntry(1, "CP-77"), ServiceEntry(2, "CP-01")], started=0.0, network_grace_s=3
    )
    assert run.next_entry(1.0, False, None, busy=False) == (None, [])
    entry, skipped = run.next_entry(1.5, True, lambda cp: cp == "CP-01", busy=False)
    assert entry.cp_id == "CP-01" and [s.outcome for s in skipped] == [Outcome.SKIPPED]


def test_central_watch_three_seconds_of_silence():
    watch = CentralWatch(started=0.0, silence_s=3.0)
    assert watch.status.link is None and watch.status.key == "unknown"
    assert watch.tick(3.0).link is CentralLink.DOWN
    alive = CentralAlive(central_id="c", started_at="2026-11-21T22:00:00.000Z")
    assert watch.alive(alive, 4.0).link is CentralLink.UP
    assert watch.tick(6.9) is None
    status = watch.tick(7.0)
    assert status.link is CentralLink.DOWN and status.text == "Cannot reach CENTRAL"
    assert "Kafka" in watch.broker(False, 7.1).text


def test_history_survives_a_damaged_line_and_dedupes(tmp_path):
    history = TicketHistory(tmp_path)
    ticket = TicketInfo.from_notice(_ticket())
    assert history.add(ticket) and not history.add(ticket)
    with history.path.open("a") as out:
        out.write("{not json\n")
    reloaded = TicketHistory(tmp_path)
    assert [t.session_id for t in reloaded.tickets()] == ["s1"]
    assert "s1" in reloaded
    assert json.loads(history.path.read_text().splitlines()[0])["kwh"] == 1.5


def test_core_ignores_other_drivers_and_duplicate_tickets_and_adopts_after_restart():
    sent: list[ChargeRequest] = []
    rec = Recorder()
    clock = Clock()
    core = DriverCore("D-001", sent.append, rec, clock=clock)
    core.on_cp_state(
        CpState(cp_id="CP-01", location="Harbour", x=1, y=2, price=0.3, status="ACTIVE")
    )
    core.on_notice(RequestReceived(request_id="x", cp_id="CP-01", driver_id="D-002"))
    assert rec.steps == []
    # a ticket for a supply from before a restart: adopted and shown once
    core.on_notice(_ticket("s-old", "r-old"))
    core.on_notice(_ticket("s-old", "r-old"))
    assert [t.session_id for t, _ in rec.tickets] == ["s-old"]
    assert rec.steps[-1][0].resumed and rec.phases() == ["finished"]
    assert core.request("CP-01") is None and sent[0].cp_id == "CP-01"
    assert core.request("CP-01").startswith("A charge is already in progress")
    assert core.request("CP-42").startswith("A charge")  # busy wins over unknown


def test_core_reports_unknown_cp_once_the_network_is_read():
    sent: list = []
    core = DriverCore("D-001", sent.append, Recorder(), clock=Clock())
    core.on_cp_state(CpState(cp_id="CP-01", location="H", x=1, y=2, price=0.3, status="ACTIVE"))
    core.network_loaded = True
    assert core.request("CP-42") == "Unknown charging point 'CP-42'"
    assert sent == []


def test_a_cp_not_yet_replayed_is_asked_for_not_refused():
    """Half the network read: the CP asked for may be in the other half (a CI flake)."""
    sent: list = []
    core = DriverCore("D-001", sent.append, Recorder(), clock=Clock())
    core.on_cp_state(CpState(cp_id="CP-01", location="H", x=1, y=2, price=0.3, status="ACTIVE"))
    assert core.request("CP-04") is None
    assert [r.cp_id for r in sent] == ["CP-04"]


def _console_core() -> tuple[DriverCore, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    core = DriverCore("D-001", lambda r: None, ConsoleListener("D-001", out), clock=clock)
    return core, out, clock


def _state(cp_id: str) -> CpState:
    return CpState(cp_id=cp_id, location="H", x=1, y=2, price=0.3, status="ACTIVE")


def test_console_announces_the_whole_network_once_then_each_new_cp():
    core, out, _ = _console_core()
    for batch in (["CP-01", "CP-02"], ["CP-03"]):  # the replay arrives in several batches
        for cp_id in batch:
            core.on_cp_state(_state(cp_id))
        core.tick()
    assert "network" not in out.getvalue()
    core.network_loaded = True
    core.tick()
    core.tick()
    core.on_cp_state(_state("CP-04"))
    core.on_cp_state(_state("CP-01"))  # a known CP that changed: no line
    core.tick()
    lines = [line for line in out.getvalue().splitlines() if "network" in line]
    assert lines == [
        "[D-001] network: 3 charging points known",
        "[D-001] network: CP-04 added — 4 charging points known",
    ]


def test_console_says_central_online_once_and_not_unreachable_once_the_broker_is_back():
    core, out, clock = _console_core()
    alive = CentralAlive(central_id="c", started_at="2026-11-21T22:00:00.000Z")
    core.on_central_alive(alive)
    core.on_broker(False)  # the broker flaps while Central's alive is fresh
    core.on_broker(True)
    core.on_central_alive(alive)
    clock.now += 1
    core.on_broker(False)
    clock.now += 3
    core.tick()  # no alive for 3 s: unreachable, because of the broker
    clock.now += 5
    core.on_broker(True)
    core.tick()
    clock.now += 1
    core.tick()
    core.on_central_alive(alive)
    assert out.getvalue().splitlines() == [
        "[D-001] Central online (c)",
        "[D-001] Cannot reach CENTRAL (Kafka broker unreachable)",
        "[D-001] Connecting to CENTRAL…",
        "[D-001] Central online (c)",
    ]
    clock.now += 3
    core.tick()  # the broker is up and Central silent for 3 s: now it is true
    assert out.getvalue().splitlines()[-1] == "[D-001] Cannot reach CENTRAL"


def test_console_shows_request_i_of_n_once_after_skipped_lines():
    core, out, _ = _console_core()
    for cp_id in ("CP-01", "CP-02"):
        core.on_cp_state(_state(cp_id))
    core.network_loaded = True
    entries = [ServiceEntry(1, "CP-98"), ServiceEntry(2, "CP-99"), ServiceEntry(3, "CP-02")]
    core.run_file("services.txt", entries)  # two unknown ids, then CP-02
    core.tick()
    core.tick()
    text = out.getvalue()
    assert text.count("unknown CP id") == 2
    assert text.count("request 3 of 3: CP-02") == 1, text


def test_a_request_made_as_the_runtime_starts_is_queued_for_kafka_not_refused():
    """The runtime's loop runs the UI's commands from its first turn: the producer exists by
    then (a broker that does not answer only delays the request in the producer's queue)."""
    from driver_app.runtime import DriverConfig, DriverRuntime

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    rec = Recorder()
    runtime = DriverRuntime(DriverConfig(bootstrap=dead, driver_id="D-001"), rec)
    answer = runtime.request("CP-01")  # queued before the thread even started
    runtime.start()
    try:
        assert answer.result(10) is None, answer.result()
    finally:
        runtime.stop()


def test_an_amended_ticket_replaces_the_provisional_one(tmp_path):
    """Issue 21: Central's inferred ticket (0.123 kWh) corrected with the meter's reading."""
    out, clock = io.StringIO(), Clock()
    core = DriverCore(
        "D-001",
        lambda r: None,
        ConsoleListener("D-001", out),
        clock=clock,
        history=TicketHistory(tmp_path),
    )
    provisional = replace(_ticket("s9", "r9"), kwh=0.123, eur=0.05, reason="monitor_lost")
    core.on_notice(provisional)
    amended = replace(_ticket("s9", "r9"), kwh=0.369, eur=0.15, was_kwh=0.123, was_eur=0.05)
    core.on_notice(amended)
    core.on_notice(amended)  # redelivered: said once
    assert [(t.kwh, t.reason) for t in core.history.tickets()] == [(0.369, "unplugged")]
    lines = [line for line in out.getvalue().splitlines() if "corrected" in line]
    assert len(lines) == 1 and "0.369 kWh" in lines[0] and "was 0.123 kWh" in lines[0]
    reloaded = TicketHistory(tmp_path)  # after a restart the correction stands
    assert [(t.kwh, t.eur) for t in reloaded.tickets()] == [(0.369, 0.15)]


def test_a_card_at_the_charger_shows_the_cp_reserved_by_it_not_a_resumed_charge():
    """Issue 24, item 6: an Authorize at an OCPP charger (the driver's RFID card) makes Central
    authorize the driver there (origin cp); the app says so instead of "(resumed)"."""
    sent: list[ChargeRequest] = []
    rec = Recorder()
    core = DriverCore("D-001", sent.append, rec, clock=Clock())
    core.on_cp_state(
        CpState(cp_id="OCPP-01", location="Plaza", x=1, y=2, price=0.3, status="ACTIVE")
    )
    at_charger = {"cp_id": "OCPP-01", "driver_id": "D-001"}
    core.on_notice(RequestReceived(request_id="r-card", origin=Origin.CP, **at_charger))
    assert rec.steps[-1][1].text == "your card at OCPP-01: checking"
    assert rec.steps[-1][0].card and not rec.steps[-1][0].resumed
    core.on_notice(
        AuthorizedNotice(
            request_id="r-card",
            session_id="s-card",
            expires_at="2026-11-21T22:00:00.000Z",
            origin=Origin.CP,
            **at_charger,
        )
    )
    view, step = rec.steps[-1]
    assert view.card and not view.resumed and view.phase == Phase.AUTHORIZED
    assert step.text == "reserved by your card at OCPP-01 (Plaza)"
    assert core.request("CP-01") == "Reserved by your card at OCPP-01: plug in there"
    assert sent == []
    buffer = io.StringIO()
    ConsoleListener("D-001", buffer).session_step(view, step)
    assert "OCPP-01 reserved by your card at OCPP-01" in buffer.getvalue()
    assert "resumed" not in buffer.getvalue()

    # the supply the card started is this driver's charge as any other
    core.on_notice(
        SupplyStartedNotice(
            session_id="s-card", started_at="2026-11-21T21:59:50.000Z", **at_charger
        )
    )
    assert rec.steps[-1][0].phase == Phase.SUPPLYING
    assert core.request("CP-01").startswith("A charge is already in progress at OCPP-01")

    # an authorization from the app, adopted after a restart, is still "resumed"
    other = DriverCore("D-001", sent.append, rec2 := Recorder(), clock=Clock())
    other.on_notice(
        AuthorizedNotice(
            request_id="r-app", session_id="s-app", expires_at="2026-11-21T22:00:00.000Z", **BASE
        )
    )
    assert rec2.steps[-1][0].resumed and not rec2.steps[-1][0].card
