"""Central's side of docs/security.md without a broker: keys in REGISTERED/AUTHORIZED, sealed
commands and notices (with ``seq``), forged/unsealed/misattributed values refused and
changing nothing, revocation, the audit, and ``evc-admin`` for keys, revocation and audit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from central_app import admin
from central_app.db import EnrollmentTokenRow, open_database
from central_app.kafka_loop import KafkaLink
from central_app.sealing import Refusal
from central_app.store import Store, revoked_text
from tests.central.conftest import client, register_and_auth
from tests.central.test_supplies import FakeConn, authorize, online, request
from tests.central.test_supplies import world as world  # noqa: F401 (the fixture)
from tests.waiting import wait_for
from wire.errors import WireError
from wire.kafka.consumer import Received
from wire.kafka.messages import (
    CP_COMMANDS,
    DRIVER_NOTICES,
    ChargeRequest,
    CommandRefused,
    CpState,
    DeadLetter,
    Event,
    Stop,
    SupplyEnded,
    SupplyStarted,
    Ticket,
)
from wire.kafka.raw import RawValue
from wire.kafka.sealed import cp_kid, driver_kid, key_bytes, new_key, open_value, seal
from wire.tcp_messages import (
    Auth,
    Authorized,
    EngineHealth,
    Heartbeat,
    Register,
    Registered,
    Rejected,
)


def link_for(hub, topics, *, sealed: bool = True) -> tuple[KafkaLink, list, list, list]:  # type: ignore[no-untyped-def]
    """A KafkaLink (no broker: produce calls recorded) sealing with the ledger's keys."""
    refusals: list[Refusal] = []
    unsealable: list[tuple[str, str]] = []
    link = KafkaLink(
        "127.0.0.1:1",
        topics,
        keys=hub.ledger.key_for if sealed else None,
        on_refused=refusals.append,
        on_unsealable=lambda topic, key, event, why: unsealable.append((key, why)),
    )
    produced: list[tuple[str, bytes | None, bytes]] = []

    def send_raw(topic: str, key: bytes | None, value: bytes, on_delivered: object = None) -> None:
        produced.append((topic, key, value))

    link.producer.send_raw = send_raw  # type: ignore[method-assign]
    link.producer.send = lambda topic, key, event: produced.append(  # type: ignore[method-assign]
        (topic, key, event.to_json())
    )
    link._topics_ok = True
    return link, produced, refusals, unsealable


def deliver(link: KafkaLink, topic: str, key: str, value: bytes | None, handler) -> None:  # type: ignore[no-untyped-def]
    """One value through the link's opening step, as a batch of one (how Central reads)."""

    def batch(received: list[Received]) -> list:  # type: ignore[type-arg]
        for one in received:
            handler(one)
        return []

    link._open(batch)([Received(topic, 0, 42, key, RawValue(value=value))])


def ended(
    session_id: str, cp_id: str = "CP-01", driver: str = "D-001", kwh: float = 9999
) -> SupplyEnded:
    return SupplyEnded(
        session_id=session_id,
        cp_id=cp_id,
        driver_id=driver,
        kwh=kwh,
        eur=2999.7,
        started_at="t0",
        ended_at="t1",
        reason="unplugged",
    )


def test_registered_and_authorized_carry_the_cp_key(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    conn = FakeConn()
    registered = monitors.handle(conn, Register("CP-01", "", None, None))
    assert isinstance(registered, Registered) and registered.key
    key_bytes(registered.key)  # a 256-bit key
    assert store.get_cp("CP-01").seal_key == registered.key  # type: ignore[union-attr]
    assert hub.ledger.key_for(cp_kid("CP-01")) == key_bytes(registered.key)
    authorized = monitors.handle(conn, Auth("CP-01", registered.credential))
    assert isinstance(authorized, Authorized) and authorized.key == registered.key
    # a claim retry (lost REGISTERED) issues a new key with the new credential
    claim = "c" * 43
    first = monitors.handle(FakeConn(), Register("CP-02", "", None, None, claim))
    retry = monitors.handle(FakeConn(), Register("CP-02", "", None, None, claim))
    assert isinstance(retry, Registered) and retry.key and retry.key != first.key  # type: ignore[union-attr]
    assert hub.ledger.cp_key("CP-02") == retry.key


def test_a_cp_registered_before_keys_gets_one_at_auth(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    registered = monitors.handle(FakeConn(), Register("CP-03", "", None, None))
    with store.db.Session.begin() as s:  # as a database from before keys existed
        s.get(__import__("central_app.db").db.ChargingPointRow, "CP-03").seal_key = None
    hub.ledger.apply_registry(store.load_cps(), store.driver_keys())
    assert hub.ledger.cp_key("CP-03") is None
    authorized = monitors.handle(FakeConn(), Auth("CP-03", registered.credential))  # type: ignore[union-attr]
    assert isinstance(authorized, Authorized) and authorized.key
    assert store.get_cp("CP-03").seal_key == authorized.key  # type: ignore[union-attr]


def test_commands_and_notices_are_sealed_and_commands_numbered(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    link, produced, _, unsealable = link_for(hub, topics)
    for _ in range(3):
        link.send(topics.cp_commands, "CP-01", Stop(cp_id="CP-01"))
    link.send(topics.driver_notices, "D-001", Ticket(**_ticket()))
    link.send(topics.network_state, "CP-01", CpState(**_state()))
    seqs = []
    for topic, key, value in produced[:3]:
        kid, event = open_value(
            value, keys=hub.ledger.key_for, topic="evc.cp.commands", codec=CP_COMMANDS
        )
        assert (topic, key, kid) == (topics.cp_commands, b"CP-01", "cp:CP-01")
        seqs.append(event.seq)  # type: ignore[attr-defined]
    assert seqs == sorted(set(seqs)) and seqs[0] > 10**15  # strictly increasing, µs clock
    kid, notice = open_value(
        produced[3][2], keys=hub.ledger.key_for, topic="evc.driver.notices", codec=DRIVER_NOTICES
    )
    assert kid == "driver:D-001" and isinstance(notice, Ticket)
    # another CP's (or driver's) key does not open it
    with pytest.raises(WireError):
        open_value(
            produced[3][2],
            keys=lambda kid: key_bytes(new_key()),
            topic="evc.driver.notices",
            codec=DRIVER_NOTICES,
        )
    assert produced[4][2].startswith(b'{"type":"cp_state"')  # public: plain
    # no key, nothing sent, and the sender is told why
    link.send(topics.cp_commands, "CP-09", Stop(cp_id="CP-09"))  # CP-09 never registered
    assert len(produced) == 5 and unsealable[0][0] == "CP-09"
    assert "no key" in unsealable[0][1]


def test_insecure_link_sends_plain_values(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    link, produced, _, _ = link_for(hub, topics, sealed=False)
    link.send(topics.cp_commands, "CP-01", Stop(cp_id="CP-01"))
    assert CP_COMMANDS.parse(produced[0][2]).seq is not None  # type: ignore[attr-defined]
    assert link._codecs()[topics.requests].types == {"charge_request"}


def test_forged_cp_events_are_refused_audited_and_change_nothing(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    online(monitors, "CP-02")
    link, produced, refusals, _ = link_for(hub, topics)
    handled: list[Event] = []

    def handler(received: Received) -> None:
        handled.append(received.event)
        desk.cp_event(received.event)

    auth = authorize(desk, outbox, topics)
    cp01 = hub.ledger.key_for(cp_kid("CP-01"))
    cp02 = hub.ledger.key_for(cp_kid("CP-02"))
    topic = "evc.cp.events"
    started = SupplyStarted(
        session_id=auth.session_id, cp_id="CP-01", driver_id="D-001", started_at="t0"
    )
    deliver(
        link,
        topics.cp_events,
        "CP-01",
        seal(started, key=cp01, kid="cp:CP-01", topic=topic),
        handler,
    )
    assert hub.cps["CP-01"].status.value == "SUPPLYING"
    forged = ended(auth.session_id)
    attacker = key_bytes(new_key())
    cases = {
        "unsealed": forged.to_json(),
        "wrong key": seal(forged, key=attacker, kid="cp:CP-01", topic=topic),
        "another CP's key": seal(forged, key=cp02, kid="cp:CP-02", topic=topic),
        "moved from another topic": seal(forged, key=cp01, kid="cp:CP-01", topic="evc.requests"),
        "unknown kid": seal(forged, key=attacker, kid="cp:CP-99", topic=topic),
        "not JSON": b"\xff{",
    }
    for value in cases.values():
        deliver(link, topics.cp_events, "CP-01", value, handler)
    assert handled == [started]  # none of them reached the desk
    assert hub.cps["CP-01"].status.value == "SUPPLYING"
    assert store.tickets(auth.session_id) == []
    assert [r.action for r in refusals] == [
        "unsealed_event",
        "forged_event",
        "forged_event",
        "forged_event",
        "forged_event",
        "invalid_event",
    ]
    assert [r.kid for r in refusals][1:5] == ["cp:CP-01", "cp:CP-02", "cp:CP-01", "cp:CP-99"]
    assert "sealed by cp:CP-02 but reports for CP-01" in refusals[2].reason
    letters = [DeadLetter(**_letter(v)) for t, _, v in produced if t == topics.dead_letter]
    assert len(letters) == 6 and all(letter.offset == 42 for letter in letters)
    assert letters[1].reason == refusals[1].reason and "does not open" in letters[1].reason
    # the real end from CP-01 is ticketed with its own reading
    real = ended(auth.session_id, kwh=2.0)
    deliver(
        link, topics.cp_events, "CP-01", seal(real, key=cp01, kid="cp:CP-01", topic=topic), handler
    )
    (ticket,) = store.tickets(auth.session_id)
    assert ticket.kwh == 2.0


def test_forged_charge_requests_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    hub.sealed = True
    online(monitors, "CP-01")
    link, produced, refusals, _ = link_for(hub, topics)
    handled: list[Event] = []

    def handler(received: Received) -> None:
        handled.append(received.event)
        desk.charge_request(received.event)  # type: ignore[arg-type]

    d1 = hub.ledger.key_for(driver_kid("D-001"))
    cp01 = hub.ledger.key_for(cp_kid("CP-01"))
    topic = "evc.requests"
    as_d2 = request("r1", driver="D-002")
    at_cp = ChargeRequest(request_id="r2", driver_id="D-002", cp_id="CP-01", origin="cp")
    for value in (
        seal(as_d2, key=d1, kid="driver:D-001", topic=topic),  # D-001 speaking for D-002
        as_d2.to_json(),  # unsealed
        seal(request("r3"), key=cp01, kid="cp:CP-01", topic=topic),  # a CP claiming origin app
        seal(at_cp, key=cp01, kid="cp:CP-02", topic=topic),  # CP-01's key named as CP-02
        seal(
            ChargeRequest(request_id="r4", driver_id="D-002", cp_id="CP-02", origin="cp"),
            key=cp01,
            kid="cp:CP-01",
            topic=topic,
        ),  # CP-01 asking for a supply at CP-02
    ):
        deliver(link, topics.requests, "CP-01", value, handler)
    assert handled == [] and outbox.sent[-1][2].TYPE != "authorize"
    assert not any(e.TYPE == "authorize" for _, _, e in outbox.sent)
    assert "sealed by driver:D-001 but speaks for driver D-002" in refusals[0].reason
    assert refusals[1].action == "unsealed_event"
    assert "origin is 'app'" in refusals[2].reason
    assert "asks for CP-02" in refusals[4].reason
    # the genuine ones: a driver's own request, and a manual supply at the CP itself
    deliver(
        link, topics.requests, "CP-01", seal(at_cp, key=cp01, kid="cp:CP-01", topic=topic), handler
    )
    assert handled == [at_cp] and hub.cps["CP-01"].session is not None


def test_a_driver_without_a_key_is_not_served_when_sealed(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    hub.sealed = True
    online(monitors, "CP-01")
    drivers = store.driver_keys()
    drivers["D-001"] = None
    hub.ledger.apply_registry(store.load_cps(), drivers)
    desk.charge_request(request("r1"))
    denied = [e for _, _, e in outbox.sent if e.TYPE == "denied"]
    assert denied[-1].reason == "unknown_driver: no key issued"  # type: ignore[attr-defined]
    assert hub.cps["CP-01"].session is None


def test_command_refused_is_audited_and_shown(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    recorder = hub._listeners[0]
    desk.cp_event(
        CommandRefused(cp_id="CP-01", reason="replayed seq 5", command_type="authorize", offset=7)
    )
    ts, who, action, detail = store.audit_entries(1)[0]
    assert (who, action) == ("cp:CP-01", "command_refused")
    assert detail == "authorize at offset 7: replayed seq 5"
    assert any("refused a authorize" in e.text and e.source == "CP-01" for e in recorder.logs)


def test_revocation_sticks_until_the_operator_re_admits_the_cp(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 19, defect 3: after a revocation the monitor used to REGISTER again by itself
    (no secret needed) and be ACTIVE within seconds. Now REGISTER and AUTH are refused until
    the operator re-admits the CP with a one-time enrollment token."""
    hub, desk, monitors, outbox, topics, clock, store = world
    hub.close_connection = lambda c: c.close()  # as the runtime's
    conn = FakeConn()
    registered = monitors.handle(conn, Register("CP-01", "", None, None))
    monitors.handle(conn, Auth("CP-01", registered.credential))  # type: ignore[union-attr]

    monitors.handle(conn, Heartbeat("CP-01", EngineHealth.OK))
    auth = authorize(desk, outbox, topics)
    desk.cp_event(
        SupplyStarted(session_id=auth.session_id, cp_id="CP-01", driver_id="D-001", started_at="t0")
    )
    monitors.revoke("CP-01")
    assert conn.closed and "CP-01" not in hub.connections
    assert hub.cps["CP-01"].status.value == "DISCONNECTED"
    desk.tick(clock.now + desk.billing.final_wait)  # no final reading came: told anyway
    assert "supply_interrupted" in outbox.types(topics.driver_notices, "D-001")
    assert hub.ledger.key_for(cp_kid("CP-01")) is None
    record = store.get_cp("CP-01")
    assert record is not None and record.revoked and not record.seal_key
    assert not record.has_credential
    _, who, action, _ = store.audit_entries(1)[0]
    assert (who, action) == ("operator", "key_revoked")
    revoked = Rejected("CP-01", revoked_text("CP-01"))
    assert monitors.handle(FakeConn(), Auth("CP-01", registered.credential)) == revoked  # type: ignore[union-attr]
    assert store.audit_entries(1)[0][2] == "auth_rejected"
    # what the monitor did by itself: REGISTER again, with or without its old claim
    assert monitors.handle(FakeConn(), Register("CP-01", "", None, None)) == revoked
    assert monitors.handle(FakeConn(), Register("CP-01", "", None, None, "c" * 43)) == revoked
    assert store.audit_entries(1)[0][2] == "register_rejected"
    assert (
        "revoked by the operator" in revoked.reason
        and "evc-admin cp enroll CP-01" in revoked.reason
    )
    assert hub.ledger.key_for(cp_kid("CP-01")) is None and store.get_cp("CP-01").revoked  # type: ignore[union-attr]
    # a token for another id does not re-admit it
    other, _ = store.issue_enrollment("CP-02", "operator")
    assert monitors.handle(FakeConn(), Register("CP-01", "", None, None, "", other)) == revoked
    # the operator re-admits it: one token, one registration
    token, _ = store.issue_enrollment("CP-01", "operator")
    fresh = monitors.handle(FakeConn(), Register("CP-01", "", None, None, "", token))
    assert isinstance(fresh, Registered) and fresh.key and fresh.key != registered.key  # type: ignore[union-attr]
    assert fresh.credential != registered.credential  # type: ignore[union-attr]
    assert isinstance(monitors.handle(FakeConn(), Auth("CP-01", fresh.credential)), Authorized)
    assert not store.get_cp("CP-01").revoked  # type: ignore[union-attr]
    (again,) = [d for _, _, a, d in store.audit_entries(10) if a == "register_again"]
    assert again.endswith("with an enrollment token")
    monitors.revoke("CP-01")
    assert monitors.handle(FakeConn(), Register("CP-01", "", None, None, "", token)) == revoked


def test_a_secured_central_registers_only_with_the_operators_token(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 19, defect 4: anyone who reached Central's port could register a new id (or a
    seeded one) and receive a credential and a CP key."""
    hub, desk, monitors, outbox, topics, clock, store = world
    hub.ledger.require_enrollment = True
    new, seeded = Register("CP-90", "Dock 9", 1.0, 2.0), Register("CP-03", "", None, None)
    for msg in (new, seeded):
        refused = monitors.handle(FakeConn(), msg)
        assert isinstance(refused, Rejected) and "enrollment token required" in refused.reason
        assert f"evc-admin cp enroll {msg.cp_id}" in refused.reason
    assert store.get_cp("CP-90") is None  # nothing of a refused new id is kept
    assert not store.get_cp("CP-03").has_credential  # type: ignore[union-attr]
    token, _ = store.issue_enrollment("CP-90", "operator")
    with_token = lambda t: Register("CP-90", "Dock 9", 1.0, 2.0, "", t)  # noqa: E731
    assert "not valid" in monitors.handle(FakeConn(), with_token("x" * 43)).reason  # type: ignore[union-attr]
    stale, _ = store.issue_enrollment("CP-90", "operator")
    with store.db.Session.begin() as s:  # as if issued long ago
        for row in s.scalars(__import__("sqlalchemy").select(EnrollmentTokenRow)):
            row.expires_at = "2020-01-01T00:00:00.000Z" if row.id == 2 else row.expires_at
    assert "not valid" in monitors.handle(FakeConn(), with_token(stale)).reason  # type: ignore[union-attr]
    registered = monitors.handle(FakeConn(), with_token(token))
    assert isinstance(registered, Registered) and registered.key
    assert isinstance(monitors.handle(FakeConn(), Auth("CP-90", registered.credential)), Authorized)
    store.reset_credential("CP-90", "operator")
    hub.ledger.apply_registry(store.load_cps(), store.driver_keys())
    reused = monitors.handle(FakeConn(), with_token(token))  # single use
    assert isinstance(reused, Rejected) and "not valid" in reused.reason
    with store.db.Session.begin() as s:  # stored hashed, never as issued
        hashes = [
            r.token_hash for r in s.scalars(__import__("sqlalchemy").select(EnrollmentTokenRow))
        ]
    assert token not in hashes and all(h.startswith("sha256$") for h in hashes)
    actions = [a for _, _, a, _ in store.audit_entries(20)]
    assert actions.count("enroll_issued") == 2 and actions.count("register_rejected") >= 4
    # a lost REGISTERED answer: the retry with the same claim needs no second token
    token2, _ = store.issue_enrollment("CP-91", "operator")
    first = monitors.handle(FakeConn(), Register("CP-91", "", None, None, "k" * 43, token2))
    retry = monitors.handle(FakeConn(), Register("CP-91", "", None, None, "k" * 43, ""))
    assert isinstance(first, Registered) and isinstance(retry, Registered)


def test_evc_admin_enroll_prints_or_writes_a_token_and_readmits(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(open_database(url))
    assert admin.main(["--db", url, "cp", "enroll", "CP-50", "--expires", "30m"]) == 0
    printed = capsys.readouterr()
    token = printed.out.strip()
    assert len(token) >= 40 and "one use" in printed.err
    path = tmp_path / "enroll" / "CP-51.token"
    assert admin.main(["--db", url, "cp", "enroll", "CP-51", "--token-file", str(path)]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.read_text().strip()
    store.register_cp(
        "CP-50", "", None, None, default_price=0.3, who="t", token=token, require_token=True
    )
    capsys.readouterr()
    assert admin.main(["--db", url, "cp", "enroll", "CP-50"]) == 1  # registered: revoke first
    assert "revoke it first" in capsys.readouterr().err
    assert admin.main(["--db", url, "cp", "enroll", "bad id#"]) in (1, 2)
    assert admin.main(["--db", url, "cp", "revoke", "CP-50"]) == 0
    assert "evc-admin cp enroll CP-50" in capsys.readouterr().out
    assert admin.main(["--db", url, "cp", "enroll", "CP-50"]) == 0  # re-admission
    actions = [a for _, _, a, _ in store.audit_entries(10)]
    assert actions.count("enroll_issued") == 3


def test_revocation_by_evc_admin_reaches_a_running_central(central, recorder) -> None:  # type: ignore[no-untyped-def]
    c = client(central)
    try:
        credential = register_and_auth(c, "CP-77")
        store = Store(open_database(central.config.db_url))
        assert admin.main(["--db", central.config.db_url, "cp", "revoke", "CP-77"]) == 0
        wait_for(lambda: not c.connected or _closed(c), 10, "the connection closed")
    finally:
        c.close()
    c = client(central)
    try:
        revoked = Rejected("CP-77", revoked_text("CP-77"))
        assert c.request(Auth("CP-77", credential)) == revoked
        assert c.request(Register("CP-77", "", None, None)) == revoked  # stays out
        token, _ = store.issue_enrollment("CP-77", "operator")
        fresh = c.request(Register("CP-77", "", None, None, "", token))
        assert isinstance(fresh, Registered) and fresh.key
        assert c.request(Auth("CP-77", fresh.credential)).key == fresh.key  # type: ignore[union-attr]
    finally:
        c.close()
    actions = [a for _, _, a, _ in store.audit_entries(100)]
    assert "key_revoked" in actions and "auth_rejected" in actions
    assert "register_rejected" in actions
    assert any("revoked by the operator" in e.text for e in recorder.logs)


def test_a_refused_value_is_audited_and_shown_by_the_runtime(central, recorder) -> None:  # type: ignore[no-untyped-def]
    central.reports.refused(
        Refusal("unit.evc.cp.events", 3, 17, "CP-01", "does not open", "cp:CP-01", "forged_event")
    )
    store = Store(open_database(central.config.db_url))
    wait_for(lambda: store.audit_entries(1)[0][2] == "forged_event", 10, "audited")
    _, who, _, detail = store.audit_entries(1)[0]
    assert who == "cp:CP-01" and detail == "unit.evc.cp.events[3]@17 key='CP-01': does not open"
    wait_for(lambda: any("forged event" in e.text for e in recorder.logs), 5, "shown")


def test_evc_admin_driver_keys_rotation_revocation_and_audit(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(open_database(url))
    from central_app.store import DEFAULT_SEED

    store.seed(DEFAULT_SEED)
    assert all(store.driver_keys().values())  # seeded drivers have keys
    key_file = tmp_path / "keys" / "D-100.key"
    assert admin.main(["--db", url, "driver", "add", "D-100", "--key-file", str(key_file)]) == 0
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    assert store.driver_keys()["D-100"] == key and key_bytes(key)
    capsys.readouterr()
    assert admin.main(["--db", url, "driver", "key", "D-001", "--current"]) == 0
    assert capsys.readouterr().out.strip() == store.driver_keys()["D-001"]
    old = store.driver_keys()["D-001"]
    assert admin.main(["--db", url, "driver", "key", "D-001"]) == 0
    new = capsys.readouterr().out.strip()
    assert new != old and store.driver_keys()["D-001"] == new
    assert admin.main(["--db", url, "driver", "key", "D-404"]) == 1
    capsys.readouterr()
    store.register_cp("CP-01", "", None, None, default_price=0.3, who="t")
    before = store.get_cp("CP-01").seal_key  # type: ignore[union-attr]
    assert admin.main(["--db", url, "cp", "rotate-key", "CP-01"]) == 0
    assert store.get_cp("CP-01").seal_key not in (None, before)  # type: ignore[union-attr]
    assert admin.main(["--db", url, "cp", "revoke", "CP-01"]) == 0
    assert store.get_cp("CP-01").revoked  # type: ignore[union-attr]
    assert admin.main(["--db", url, "cp", "rotate-key", "CP-01"]) == 1  # not registered now
    capsys.readouterr()
    assert admin.main(["--db", url, "audit", "--limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("time (UTC)") and len(out) == 4
    assert "key_revoked" in out[1] and "key_rotated" in out[2]  # newest first
    assert "CP-01: credential and key" in out[1]


# --- helpers --------------------------------------------------------------------------------


def _closed(c) -> bool:  # type: ignore[no-untyped-def]
    try:
        c.request(Heartbeat("CP-77", EngineHealth.OK))
    except WireError:
        return True
    return False


def _ticket() -> dict:
    return dict(
        session_id="s",
        cp_id="CP-01",
        driver_id="D-001",
        kwh=1.0,
        eur=0.4,
        started_at="t0",
        ended_at="t1",
        reason="unplugged",
    )


def _state() -> dict:
    return dict(cp_id="CP-01", location="x", x=None, y=None, price=0.4, status="ACTIVE")


def _letter(value: bytes) -> dict:
    import json

    body = json.loads(value)
    return {k: body[k] for k in ("topic", "partition", "offset", "key", "reason", "value")}


def test_a_restarted_central_numbers_commands_above_the_last_whatever_its_clock(
    tmp_path: Path,
) -> None:
    """Issue 19, defect 6 for a lone Central (SQLite): each start takes the next epoch of the
    database, so a restart with the clock set back an hour still numbers above what the
    engines accepted; only a new database reads a clock once (its first epoch)."""
    from central_app.sealing import Sealer
    from cp_core.command_guard import ReplayWindow

    store = Store(open_database(f"sqlite:///{tmp_path / 'c.db'}"))
    window = ReplayWindow()
    last = 0
    for clock in (lambda: 2_000_000_000.0, lambda: 2_000_000_000.0 - 3600, lambda: 0.0):
        sealer = Sealer(prefix="", keys=None, cp_commands="c", driver_notices="n", clock=clock)
        sealer.take_office(store.take_epoch("central"))
        for _ in range(2):
            stop = Stop(cp_id="CP-01", seq=sealer.next_seq())
            assert window.check(stop) is None
            window.accept(stop)
            assert stop.seq > last > -1  # type: ignore[operator]
            last = stop.seq  # type: ignore[assignment]
    assert last > 10**15 * 100  # above every seq of the old µs-clock scheme
