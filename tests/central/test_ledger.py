"""The ledger and its writer: retry-safe registration with a claim, credentials checked in
memory (old scrypt hashes upgraded), the writer's order and its patience through outages,
and the folding of per-CP log lines in a storm."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from central_app.db import ChargingPointRow, open_database
from central_app.db_writer import DbWriter, InlineWriter
from central_app.hub import TALLY_FREE, Hub
from central_app.ledger import Ledger
from central_app.store import DEFAULT_SEED, RegistryError, Store
from tests.central.conftest import Recorder
from tests.central.test_supplies import Clock, FakeConn, Outbox
from tests.waiting import wait_for
from wire.credentials import needs_rehash, verify_credential
from wire.kafka.topics import Topics
from wire.tcp_messages import Auth, Authorized, Register, Registered, Rejected


@pytest.fixture
def desk(db_url: str):  # type: ignore[no-untyped-def]
    from central_app.authorization import AuthorizationPolicy
    from central_app.billing import Billing
    from central_app.monitors import MonitorDesk, machine_from
    from central_app.supplies import SupplyDesk

    store = Store(open_database(db_url))
    store.seed(DEFAULT_SEED)
    ledger = Ledger(store, InlineWriter())
    records, _ = ledger.load()
    hub = Hub(ledger, Outbox(), Topics("x."))
    for record in records:
        hub.cps[record.cp_id] = machine_from(record)
    supplies = SupplyDesk(
        hub, policy=AuthorizationPolicy(authorization_ttl=30), billing=Billing(ledger)
    )
    return MonitorDesk(hub, supplies, clock=Clock()), store


def test_a_lost_register_response_is_retried_with_the_claim(desk) -> None:  # type: ignore[no-untyped-def]
    monitors, store = desk
    claim = secrets.token_urlsafe(32)
    first = monitors.handle(FakeConn(), Register("CP-500", "Harbour", 1.0, 2.0, claim))
    assert isinstance(first, Registered)  # ... and imagine this response was lost
    thief = monitors.handle(FakeConn(), Register("CP-500", "", None, None, "not-the-claim"))
    assert isinstance(thief, Rejected) and thief.reason == "already registered"
    unclaimed = monitors.handle(FakeConn(), Register("CP-500", "", None, None))
    assert isinstance(unclaimed, Rejected)
    retry = monitors.handle(FakeConn(), Register("CP-500", "Harbour", 1.0, 2.0, claim))
    assert isinstance(retry, Registered) and retry.credential != first.credential
    # the first credential stopped working; the new one authenticates
    assert isinstance(monitors.handle(FakeConn(), Auth("CP-500", first.credential)), Rejected)
    assert isinstance(monitors.handle(FakeConn(), Auth("CP-500", retry.credential)), Authorized)
    # once the credential was used, the registration is final, claim or not
    late = monitors.handle(FakeConn(), Register("CP-500", "Harbour", 1.0, 2.0, claim))
    assert isinstance(late, Rejected) and late.reason == "already registered"
    with store.db.Session.begin() as s:
        row = s.get(ChargingPointRow, "CP-500")
        assert row.claim_hash is None and claim not in (row.credential_hash or "")


def test_claim_state_survives_a_restart(db_url: str) -> None:
    store = Store(open_database(db_url))
    credential, _ = store.register_cp(
        "CP-9", "", None, None, default_price=0.3, who="t", claim="c-1"
    )
    ledger = Ledger(store, InlineWriter())
    ledger.load()  # a restarted Central: the claim is still pending
    credential2, _ = store.register_cp(
        "CP-9", "", None, None, default_price=0.3, who="t", claim="c-1"
    )
    assert credential2 != credential
    ledger.load()
    ledger.authenticate("CP-9", credential2)
    ledger.load()
    with pytest.raises(RegistryError, match="already registered"):
        store.register_cp("CP-9", "", None, None, default_price=0.3, who="t", claim="c-1")


def _old_scrypt_hash(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32)
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"scrypt$4096$8$1${b64(salt)}${b64(digest)}"


def test_old_scrypt_hashes_verify_and_are_upgraded_at_auth(db_url: str) -> None:
    store = Store(open_database(db_url))
    store.seed(DEFAULT_SEED)
    secret = "an-old-credential"
    store.set_credential_hash("CP-01", _old_scrypt_hash(secret))
    ledger = Ledger(store, InlineWriter())
    ledger.load()
    with pytest.raises(RegistryError, match="bad credential"):
        ledger.authenticate("CP-01", "wrong")
    ledger.authenticate("CP-01", secret)
    with store.db.Session.begin() as s:
        stored = s.scalar(
            select(ChargingPointRow.credential_hash).where(ChargingPointRow.id == "CP-01")
        )
    assert not needs_rehash(stored) and verify_credential(secret, stored)
    ledger.authenticate("CP-01", secret)  # and the new hash works from memory too


def test_writer_keeps_order_and_retries_through_an_outage() -> None:
    healthy: list[tuple[bool, str]] = []
    writer = DbWriter(on_health=lambda ok, detail: healthy.append((ok, detail)))
    done: list[int] = []
    outage = threading.Event()
    attempts = 0

    def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if not outage.is_set():
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return "written"

    try:
        first = writer.submit(done.append, 1)
        written = writer.submit(flaky)
        after = writer.submit(done.append, 3)
        wait_for(lambda: attempts >= 3, 10, "the writer retrying")
        assert not written.done() and not after.done() and done == [1]
        assert healthy and healthy[0][0] is False and "locked" in healthy[0][1]
        outage.set()
        assert written.result(10) == "written"
        after.result(10)
        assert first.done() and done == [1, 3]
        assert healthy[-1] == (True, "")
        # any other error fails that job only
        broken = writer.submit(lambda: (_ for _ in ()).throw(IntegrityError("x", {}, Exception())))
        with pytest.raises(IntegrityError):
            broken.result(10)
        writer.barrier().result(10)
        assert writer.backlog == 0
    finally:
        writer.stop()


def test_storm_lines_are_folded_into_one_a_second() -> None:
    clock = Clock()
    hub = Hub(Ledger(None, InlineWriter()), Outbox(), Topics("x."), clock=clock)  # type: ignore[arg-type]
    recorder = Recorder()
    hub.add_listener(recorder)
    for i in range(5000):
        hub.tell("monitors authenticated", f"monitor authenticated {i}", source=f"CP-{i}")
    assert len(recorder.logs) == TALLY_FREE
    clock.now += 1.0
    hub.flush_tally()
    assert recorder.logs[-1].text == f"... and {5000 - TALLY_FREE} more: monitors authenticated"
    assert len(recorder.logs) == TALLY_FREE + 1
