"""The checker's rules on made-up evidence: a clean campaign passes, and each way the books,
the requests, the states or the processes can go wrong is caught with its evidence."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from chaos.checker import check
from chaos.evidence import (
    DbSession,
    Evidence,
    Exit,
    Happened,
    LogExcerpt,
    ProcessFate,
    Rec,
    Sample,
    Unopened,
)
from chaos.schedule import Fault, FaultKind
from chaos.verdict import epoch
from wire.books import Row
from wire.kafka.messages import (
    AuthorizationRejected,
    Authorize,
    AuthorizedNotice,
    ChargeRequest,
    CpState,
    Denied,
    Event,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
    Ticket,
)
from wire.reasons import EndReason
from wire.states import CpStatus, Origin

T0 = 1_800_000_000.0  # the campaign's start (epoch s)
PRICE = 0.35
AUTHORIZED_AT = "2027-01-15T08:00:01.000Z"


class Topics:
    """Builds records with increasing offsets per topic."""

    def __init__(self) -> None:
        self.records: list[Rec] = []
        self._offsets: dict[str, int] = {}

    def add(self, topic: str, at: float, event: Event) -> Rec:
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        rec = Rec(topic, 0, offset, T0 + at, None, event)
        self.records.append(rec)
        return rec


def supply(
    topics: Topics,
    sid: str,
    cp: str = "CP-01",
    driver: str = "D-001",
    readings: tuple[float, ...] = (0.061, 0.122, 0.183),
    final: float | None = 0.2,
    at: float = 10.0,
) -> None:
    """A request, its authorization, a supply with readings, the engine's end."""
    rid = f"r-{sid}"
    topics.add("evc.requests", at, ChargeRequest(request_id=rid, driver_id=driver, cp_id=cp))
    topics.add(
        "evc.cp.commands",
        at + 0.1,
        Authorize(
            session_id=sid, request_id=rid, driver_id=driver, cp_id=cp, price=PRICE,
            expires_at="2027-01-15T08:00:31.000Z", seq=1,
        ),
    )  # fmt: skip
    topics.add(
        "evc.driver.notices",
        at + 0.1,
        AuthorizedNotice(
            request_id=rid, session_id=sid, cp_id=cp, driver_id=driver,
            expires_at="2027-01-15T08:00:31.000Z",
        ),
    )  # fmt: skip
    started = "2027-01-15T08:00:03.000Z"
    topics.add(
        "evc.cp.events",
        at + 2,
        SupplyStarted(session_id=sid, cp_id=cp, driver_id=driver, started_at=started),
    )
    for seq, kwh in enumerate(readings, 1):
        topics.add(
            "evc.cp.events",
            at + 2 + seq,
            SupplyProgress(
                session_id=sid, cp_id=cp, driver_id=driver, seq=seq, kw=22.0, kwh=kwh,
                eur=round(kwh * PRICE, 2),
            ),
        )  # fmt: skip
    if final is not None:
        topics.add(
            "evc.cp.events",
            at + 6,
            SupplyEnded(
                session_id=sid, cp_id=cp, driver_id=driver, kwh=final,
                eur=round(final * PRICE, 2), started_at=started,
                ended_at="2027-01-15T08:00:07.000Z", reason=EndReason.UNPLUGGED,
            ),
        )  # fmt: skip


def ticket(topics: Topics, sid: str, kwh: float, at: float = 17.0, **extra: object) -> None:
    topics.add(
        "evc.driver.notices",
        at,
        Ticket(
            session_id=sid, cp_id="CP-01", driver_id="D-001", kwh=kwh,
            eur=round(kwh * PRICE, 2), started_at="2027-01-15T08:00:03.000Z",
            ended_at="2027-01-15T08:00:07.000Z", reason=EndReason.UNPLUGGED,
            request_id=f"r-{sid}", **extra,
        ),
    )  # fmt: skip


def row(sid: str, kwh: float = 0.2, status: str = "ticketed", **changes: object) -> DbSession:
    base = Row(
        session_id=sid, cp_id="CP-01", driver_id="D-001", status=status, price=PRICE,
        kwh=kwh if status == "ticketed" else None,
        eur=round(kwh * PRICE, 2) if status == "ticketed" else None,
        meter_kwh=kwh if status == "ticketed" else None, flag=None,
        authorized_at=AUTHORIZED_AT, expires_at="2027-01-15T08:00:31.000Z",
        ended_at="2027-01-15T08:00:07.000Z" if status == "ticketed" else None,
    )  # fmt: skip
    fields = {f.name for f in dataclasses.fields(Row)}
    base = replace(base, **{k: v for k, v in changes.items() if k in fields})
    rest = {k: v for k, v in changes.items() if k not in fields}
    return DbSession(base, request_id=f"r-{sid}", started_at="2027-01-15T08:00:03.000Z", **rest)  # type: ignore[arg-type]


def state(topics: Topics, cp: str, status: str, at: float) -> None:
    topics.add(
        "evc.network.state",
        at,
        CpState(cp_id=cp, location="Old Town", x=1.0, y=2.0, price=PRICE, status=CpStatus(status)),
    )


def clean() -> tuple[Evidence, Topics]:
    topics = Topics()
    state(topics, "CP-01", "ACTIVE", 1)
    state(topics, "CP-02", "ACTIVE", 1)
    supply(topics, "S1")
    ticket(topics, "S1", 0.2)
    # a denied request is an answer too
    topics.add(
        "evc.requests", 20, ChargeRequest(request_id="r-x", driver_id="D-002", cp_id="CP-01")
    )
    topics.add(
        "evc.driver.notices",
        20.2,
        Denied(request_id="r-x", cp_id="CP-01", driver_id="D-002", reason="expired"),
    )
    ev = Evidence(
        cps=["CP-01", "CP-02"],
        sessions=[row("S1")],
        processes=[
            ProcessFate("central-a", "central", True),
            ProcessFate("driver-D-001", "driver", False, 1, stopped_by_campaign=True),
            ProcessFate("driver-D-002", "driver", False, 0),  # its file ran to its end
        ],
        samples=[Sample(T0 + t, "central-a", 10, 90_000 + t, 60) for t in range(0, 100, 2)],
        started_at=T0,
        checked_at=T0 + 200,
    )
    return ev, topics


def verdict(ev: Evidence, topics: Topics) -> list[tuple[str, str]]:
    ev.records = list(topics.records)
    return [(v.rule, v.subject) for v in check(ev)]


def test_a_clean_campaign_is_clean() -> None:
    ev, topics = clean()
    assert verdict(ev, topics) == []


def test_a_supply_without_a_ticket() -> None:
    ev, topics = clean()
    supply(topics, "S2", at=30)
    ev.sessions.append(row("S2", status="cancelled"))
    assert verdict(ev, topics) == [("session", "S2")]
    ev.sessions[-1] = row("S2", status="supplying")
    (v,) = check(ev)
    assert "never closed: still supplying" in v.detail
    assert any("evc.cp.commands[0]@" in line for line in v.evidence)  # the topic offsets
    assert v.at == epoch(AUTHORIZED_AT)  # dated by its authorization


def test_two_tickets_for_one_session_and_an_amendment() -> None:
    ev, topics = clean()
    ticket(topics, "S1", 0.2, at=18)
    assert verdict(ev, topics) == [("session", "S1")]
    ev, topics = clean()
    ticket(topics, "S1", 0.2, at=18, was_kwh=0.183, was_eur=0.06)  # one amendment is fine
    assert verdict(ev, topics) == []


def test_no_ticket_reached_the_driver() -> None:
    ev, topics = clean()
    topics.records = [r for r in topics.records if not isinstance(r.event, Ticket)]
    (v,) = check(replace_records(ev, topics))
    assert (v.rule, v.detail) == ("session", "ticketed, but no ticket reached the driver")


def replace_records(ev: Evidence, topics: Topics) -> Evidence:
    ev.records = list(topics.records)
    return ev


def test_a_ticket_that_is_not_the_meters_final_reading() -> None:
    ev, topics = clean()
    # Central billed the last progress (0.183) although the engine said 0.2: within a reading
    ev.sessions = [row("S1", kwh=0.183, meter_kwh=None)]
    topics.records = [r for r in topics.records if not isinstance(r.event, Ticket)]
    ticket(topics, "S1", 0.183)
    assert verdict(ev, topics) == []
    # two readings short is not
    ev.sessions = [row("S1", kwh=0.122, meter_kwh=None)]
    topics.records = [r for r in topics.records if not isinstance(r.event, Ticket)]
    ticket(topics, "S1", 0.122)
    (v,) = check(replace_records(ev, topics))
    assert v.rule == "meter" and "0.122" in v.detail and "0.200" in v.detail


def test_the_price_must_be_the_authorized_one() -> None:
    ev, topics = clean()
    ev.sessions = [row("S1", price=0.40, eur=0.08)]
    found = {(v.rule, v.detail.split(" ")[0]) for v in check(replace_records(ev, topics))}
    assert ("meter", "billed") in found  # 0.40 billed, 0.35 authorized
    assert ("meter", "0.08") in found  # € is not kWh × the authorized price


def test_reconciliation_runs_over_the_database() -> None:
    ev, topics = clean()
    ev.sessions = [row("S1", meter_kwh=0.25)]  # Central recorded another final reading
    assert verdict(ev, topics) == [("books:kwh_differs_from_meter", "S1")]
    ev.sessions = [row("S1"), row("S9", status="expired", meter_kwh=0.3)]
    assert ("books:metered_not_ticketed", "S9") in verdict(ev, topics)


def test_a_supply_central_never_authorized() -> None:
    ev, topics = clean()
    topics.add(
        "evc.cp.events",
        40,
        SupplyStarted(session_id="S7", cp_id="CP-02", driver_id="D-003", started_at="x"),
    )
    assert verdict(ev, topics) == [("unauthorized_supply", "S7")]
    # a manual one, requested at the CP, billed: fine
    manual = row("S7", origin=Origin.CP, authorized_at=None)
    ev.sessions.append(manual)
    assert verdict(ev, topics) == [("books:ticket_without_authorization", "S7")]


def test_a_ticket_without_a_session() -> None:
    ev, topics = clean()
    ticket(topics, "S404", 0.1)
    assert verdict(ev, topics) == [("session", "S404")]


def test_every_request_is_answered() -> None:
    ev, topics = clean()
    topics.add(
        "evc.requests", 50, ChargeRequest(request_id="r-lost", driver_id="D-004", cp_id="CP-02")
    )
    (v,) = check(replace_records(ev, topics))
    assert (v.rule, v.subject) == ("request", "r-lost")
    assert v.evidence[0].startswith("evc.requests[0]@")
    # a manual request (at the CP) is not a driver's
    ev, topics = clean()
    topics.add(
        "evc.requests",
        50,
        ChargeRequest(request_id="r-m", driver_id="TECH-1", cp_id="CP-02", origin=Origin.CP),
    )
    assert verdict(ev, topics) == []


def fault(index: int, at: float, hold: float, kind: FaultKind, *sides: tuple[str, ...]) -> Happened:
    f = Fault(index, at, hold, kind, sides)
    return Happened(f, T0 + at, T0 + at + hold, note="done")


def test_a_cp_must_show_its_true_state_within_10_s_of_the_heal() -> None:
    ev, topics = clean()
    ev.timeline = [fault(1, 60, 5, FaultKind.KILL, ("monitor-CP-02",))]
    state(topics, "CP-02", "DISCONNECTED", 62)
    state(topics, "CP-02", "ACTIVE", 73)  # 8 s after the heal at 65
    assert verdict(ev, topics) == []
    ev, topics = clean()
    ev.timeline = [fault(1, 60, 5, FaultKind.KILL, ("monitor-CP-02",))]
    state(topics, "CP-02", "DISCONNECTED", 62)
    state(topics, "CP-02", "ACTIVE", 77)  # 12 s after
    (v,) = check(replace_records(ev, topics))
    assert (v.rule, v.subject) == ("state", "CP-02")
    assert "#1 (kill monitor-CP-02)" in v.detail and "DISCONNECTED" in v.detail
    assert any("t=62.0s" in line for line in v.evidence)


def test_no_state_judgement_while_another_fault_touches_the_cp() -> None:
    ev, topics = clean()
    ev.timeline = [
        fault(1, 60, 5, FaultKind.KILL, ("monitor-CP-02",)),
        fault(2, 63, 10, FaultKind.PAUSE, ("central-a",)),  # touches every CP until 73
    ]
    state(topics, "CP-02", "DISCONNECTED", 62)
    state(topics, "CP-02", "ACTIVE", 80)  # 7 s after the second heal
    assert verdict(ev, topics) == []
    # a driver's fault touches no CP
    ev.timeline[1] = fault(2, 63, 10, FaultKind.PAUSE, ("driver-D-001",))
    assert verdict(ev, topics) == [("state", "CP-02")]


def test_a_cp_that_refuses_as_busy_while_central_shows_it_free() -> None:
    ev, topics = clean()
    ev.timeline = [fault(1, 60, 5, FaultKind.KILL, ("ocpp-gateway",))]
    ev.cps.append("OCPP-01")
    state(topics, "OCPP-01", "ACTIVE", 1)
    for at in (70.0, 90.0):  # 5 s after the heal (still recovering), then 25 s after
        topics.add(
            "evc.cp.events",
            at,
            AuthorizationRejected(
                session_id=f"S{at:.0f}", cp_id="OCPP-01", reason="charging point is busy"
            ),
        )
    (v,) = check(replace_records(ev, topics))
    assert (v.rule, v.subject) == ("state", "OCPP-01") and "refused session S90 as busy" in v.detail


def test_every_cp_ends_active() -> None:
    ev, topics = clean()
    state(topics, "CP-02", "BROKEN", 150)
    assert verdict(ev, topics) == [("state", "CP-02")]


def test_processes_logs_and_journals() -> None:
    ev, topics = clean()
    ev.processes.append(ProcessFate("engine-CP-01", "engine", False, -9, log="engine.log"))
    ev.exits.append(Exit("monitor-CP-02", T0 + 30, 1, "boom", "restarted as pid 5"))
    ev.tracebacks.append(LogExcerpt("central-b.log", 12, "Traceback (most recent call last):\n  x"))
    ev.journals["CP-03"] = {"status": "ended", "event": {"session_id": "S5"}}
    ev.unopened.append(Unopened("evc.cp.events", 2, 7, "does not open with the key of 'cp:CP-09'"))
    assert sorted(verdict(ev, topics)) == [
        ("journal", "CP-03"),
        ("process", "engine-CP-01"),
        ("process", "monitor-CP-02"),
        ("traceback", "central-b.log"),
        ("unverifiable", "evc.cp.events"),
    ]


def test_centrals_memory_and_open_files_are_bounded() -> None:
    ev, topics = clean()
    ev.samples = [Sample(T0 + t, "central-a", 10, 90_000, 60 + t) for t in range(0, 100, 2)]
    (v,) = check(replace_records(ev, topics))
    assert v.rule == "central_resources" and "grew from 60 to 158 in one stretch" in v.detail
    ev.samples = [Sample(T0, "central-b", 11, 900_000, 60)]
    (v,) = check(replace_records(ev, topics))
    assert "RSS 879 MiB, above 500 MiB" in v.detail


def test_open_files_are_compared_within_a_role() -> None:
    ev, topics = clean()

    def stint(start: int, end: int, role: str, fds: int) -> list[Sample]:
        return [
            Sample(T0 + t, "central-a", 10, 90_000, fds, f"pipes {fds}", role)
            for t in range(start, end, 2)
        ]

    # a standby needs fewer files than the active: no finding in going from one to the other
    ev.samples = (
        stint(0, 10, "active", 65) + stint(10, 30, "standby", 37) + stint(30, 40, "active", 80)
    )
    assert verdict(ev, topics) == []
    # but the active holding 48 more the second time is something left open at the changes
    ev.samples = (
        stint(0, 10, "active", 65) + stint(10, 30, "standby", 37) + stint(30, 60, "active", 113)
    )
    (v,) = check(replace_records(ev, topics))
    assert v.rule == "central_resources"
    assert (
        "as the active Central it held 65 open files the first time and 113 the last, 2 role changes later"
        in v.detail
    )
    assert v.evidence[0].startswith("t=0s active 65 open files: pipes 65")


def test_samples_of_no_known_role_are_no_baseline() -> None:
    """A Central is sampled with no role while it starts (3 open files) and whenever the
    campaign has not heard its own word yet: such stretches are compared with nothing."""
    ev, topics = clean()

    def stint(start: int, end: int, role: str, fds: int) -> list[Sample]:
        return [
            Sample(T0 + t, "central-b", 12, 90_000, fds, "", role) for t in range(start, end, 2)
        ]

    ev.samples = (
        stint(0, 4, "", 3)
        + stint(4, 20, "active", 48)
        + stint(20, 24, "", 47)
        + stint(24, 40, "standby", 24)
        + stint(40, 60, "active", 49)
    )
    assert verdict(ev, topics) == []


def test_a_role_is_the_sampled_process_own_word() -> None:
    from types import SimpleNamespace

    from chaos.campaign import Campaign

    live = SimpleNamespace(roles={"central-b": "active"}, roles_since={"central-b": 1000.0})
    campaign = Campaign(None, None, [], 0.0, 2, [], live=live)  # type: ignore[arg-type]
    assert campaign._role_of("central-b", first_seen=1002.0) == "active"  # its own announcement
    assert campaign._role_of("central-b", first_seen=1600.0) == ""  # its predecessor's
    assert campaign._role_of("central-a", first_seen=1002.0) == ""  # nothing announced yet
