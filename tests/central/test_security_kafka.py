"""Sealed values through the real broker: Central seals its commands, and an attacker's
``supply_ended`` (no key, or a made-up key) produced to evc.cp.events is dead-lettered with
the reason and audited while the real ticket is unaffected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_app.db import open_database
from central_app.runtime import CentralRuntime
from central_app.store import Store
from tests.central.conftest import Recorder, make_runtime, status_of
from tests.central.scripted import Monitor
from tests.waiting import wait_for
from wire.kafka.consumer import EventConsumer
from wire.kafka.messages import (
    CP_COMMANDS,
    DEAD_LETTER,
    Authorize,
    ChargeRequest,
    Event,
    SupplyEnded,
    SupplyStarted,
)
from wire.kafka.producer import EventProducer
from wire.kafka.raw import RawCodec
from wire.kafka.sealed import key_bytes, new_key, open_value, seal
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

pytestmark = pytest.mark.kafka


@pytest.fixture
def central(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, recorder: Recorder
) -> Iterator[CentralRuntime]:
    # plain TCP and PLAINTEXT Kafka, but sealed values (what this file tests)
    runtime = make_runtime(tmp_path, kafka_bootstrap, topics, recorder, seal_kafka=True)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


class Brokers:
    """What the tests do on the brokers beside Central: produce raw values (forged or
    sealed), read CP-07's command partition as its engine would, and read the dead letters."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topics = topics
        self.producer = EventProducer(bootstrap, client_id="test-sealed")
        self.commands = EventConsumer(
            bootstrap,
            group_id=f"{topics.prefix}engine-CP-07",
            codecs={topics.cp_commands: RawCodec()},
            dead_letter_topic=None,
        )
        self.commands.assign_key(
            topics.cp_commands, "CP-07", topics.partitions_of(topics.cp_commands)
        )
        self.letters = EventConsumer(
            bootstrap,
            group_id=f"{topics.prefix}letters",
            codecs={topics.dead_letter: DEAD_LETTER},
            dead_letter_topic=None,
        )
        self.letters.subscribe()
        self.received: list[bytes] = []  # CP-07's commands, as read
        self.dead: list[Event] = []

    def send(self, topic: str, key: str, value: bytes) -> None:
        self.producer.send_raw(topic, key.encode(), value)
        self.producer.flush(10)

    def authorize(self, cp_key: bytes) -> Authorize:
        """The first ``authorize`` on CP-07's partition, opened with its key."""

        def opened() -> Authorize | None:
            self.commands.poll(lambda r: self.received.append(r.event.value), timeout=0.2)  # type: ignore[attr-defined]
            for value in self.received:
                _, event = open_value(
                    value, keys=lambda kid: cp_key, topic="evc.cp.commands", codec=CP_COMMANDS
                )
                if isinstance(event, Authorize):
                    return event
            return None

        return wait_for(opened, 30, "a sealed authorize")

    def refusals(self, count: int) -> list[str]:
        """The reasons of the first ``count`` dead letters of evc.cp.events."""

        def of_events() -> list[str]:
            return [d.reason for d in self.dead if d.topic == self.topics.cp_events]  # type: ignore[attr-defined]

        def enough() -> bool:
            self.letters.poll(lambda r: self.dead.append(r.event), timeout=0.2)
            return len(of_events()) >= count

        wait_for(enough, 30, f"{count} dead letters")
        return of_events()

    def close(self) -> None:
        self.commands.close()
        self.letters.close()
        self.producer.close()


@pytest.fixture
def brokers(kafka_bootstrap: str, topics: Topics) -> Iterator[Brokers]:
    opened = Brokers(kafka_bootstrap, topics)
    try:
        yield opened
    finally:
        opened.close()


def ended(session_id: str, cp_id: str, kwh: float, *, price: float, started_at: str) -> SupplyEnded:
    """A ``supply_ended`` of D-001's supply, billed at ``price``."""
    return SupplyEnded(
        session_id=session_id,
        cp_id=cp_id,
        driver_id="D-001",
        kwh=kwh,
        eur=round(kwh * price, 2),
        started_at=started_at,
        ended_at=now_ts(),
        reason="unplugged",
    )


def test_forged_supply_ended_is_dead_lettered_and_the_real_ticket_stands(
    central: CentralRuntime, brokers: Brokers, topics: Topics, recorder: Recorder
) -> None:
    store = Store(open_database(central.config.db_url))
    monitor = Monitor(central.port, "CP-07")
    monitor.start()
    try:
        wait_for(lambda: status_of(central, "CP-07") == "ACTIVE", 10, "CP-07 ACTIVE")
        wait_for(lambda: any(link.kafka_up for link in recorder.links), 30, "Kafka up")
        cp_key = key_bytes(store.get_cp("CP-07").seal_key)  # type: ignore[arg-type,union-attr]
        d_key = key_bytes(store.driver_keys()["D-001"])  # type: ignore[arg-type]

        request = ChargeRequest(request_id="req-sec", driver_id="D-001", cp_id="CP-07")
        brokers.send(
            topics.requests,
            "CP-07",
            seal(request, key=d_key, kid="driver:D-001", topic="evc.requests"),
        )
        auth = brokers.authorize(cp_key)
        assert auth.seq is not None and json.loads(brokers.received[0])["kid"] == "cp:CP-07"

        def event_value(event: Event, key: bytes, kid: str = "cp:CP-07") -> bytes:
            return seal(event, key=key, kid=kid, topic="evc.cp.events")

        started_at = now_ts()
        started = SupplyStarted(
            session_id=auth.session_id, cp_id="CP-07", driver_id="D-001", started_at=started_at
        )
        brokers.send(topics.cp_events, "CP-07", event_value(started, cp_key))
        wait_for(lambda: status_of(central, "CP-07") == "SUPPLYING", 20, "SUPPLYING")

        def end(kwh: float) -> SupplyEnded:
            return ended(auth.session_id, "CP-07", kwh, price=auth.price, started_at=started_at)

        brokers.send(topics.cp_events, "CP-07", end(9999).to_json())  # no key at all
        made_up = event_value(end(9999), key_bytes(new_key()))
        brokers.send(topics.cp_events, "CP-07", made_up)

        reasons = brokers.refusals(2)
        assert "not a sealed value" in reasons[0]
        assert "does not open with the key of 'cp:CP-07'" in reasons[1]
        assert status_of(central, "CP-07") == "SUPPLYING"  # the forgeries changed nothing
        assert store.tickets(auth.session_id) == []

        brokers.send(topics.cp_events, "CP-07", event_value(end(1.25), cp_key))
        wait_for(lambda: store.tickets(auth.session_id), 20, "the real ticket")
        (ticket,) = store.tickets(auth.session_id)
        assert ticket.kwh == 1.25
        actions = [(who, action) for _, who, action, _ in store.audit_entries(50)]
        assert ("unknown", "unsealed_event") in actions and ("cp:CP-07", "forged_event") in actions
        wait_for(
            lambda: any("refused a value on evc.cp.events" in e.text for e in recorder.logs),
            5,
            "shown in the control center's messages",
        )
    finally:
        monitor.stop()


def test_one_cp_cannot_end_or_bill_another_cps_session(
    central: CentralRuntime, brokers: Brokers, topics: Topics, recorder: Recorder
) -> None:
    """Issue 19, defect 1: CP-08's own key, its own cp_id, CP-07's session_id: refused,
    dead-lettered and audited; CP-07's supply goes on and its real end is ticketed."""
    store = Store(open_database(central.config.db_url))
    victim, insider = Monitor(central.port, "CP-07"), Monitor(central.port, "CP-08")
    victim.start()
    insider.start()
    try:
        for cp in ("CP-07", "CP-08"):
            wait_for(lambda cp=cp: status_of(central, cp) == "ACTIVE", 10, f"{cp} ACTIVE")
        wait_for(lambda: any(link.kafka_up for link in recorder.links), 30, "Kafka up")
        keys = {
            cp: key_bytes(store.get_cp(cp).seal_key)  # type: ignore[arg-type,union-attr]
            for cp in ("CP-07", "CP-08")
        }
        d_key = key_bytes(store.driver_keys()["D-001"])  # type: ignore[arg-type]

        def as_cp(cp: str, event: Event) -> bytes:
            return seal(event, key=keys[cp], kid=f"cp:{cp}", topic="evc.cp.events")

        request = ChargeRequest(request_id="req-insider", driver_id="D-001", cp_id="CP-07")
        brokers.send(
            topics.requests,
            "CP-07",
            seal(request, key=d_key, kid="driver:D-001", topic="evc.requests"),
        )
        auth = brokers.authorize(keys["CP-07"])
        started_at = now_ts()
        brokers.send(
            topics.cp_events,
            "CP-07",
            as_cp(
                "CP-07",
                SupplyStarted(
                    session_id=auth.session_id,
                    cp_id="CP-07",
                    driver_id="D-001",
                    started_at=started_at,
                ),
            ),
        )
        wait_for(lambda: status_of(central, "CP-07") == "SUPPLYING", 20, "SUPPLYING")

        def end(session_id: str, cp_id: str, kwh: float) -> SupplyEnded:
            return ended(session_id, cp_id, kwh, price=auth.price, started_at=started_at)

        # sealed by CP-08, naming CP-08, with CP-07's session; then a made-up session
        brokers.send(topics.cp_events, "CP-08", as_cp("CP-08", end(auth.session_id, "CP-08", 9999)))
        brokers.send(topics.cp_events, "CP-08", as_cp("CP-08", end("made-up-session", "CP-08", 5)))

        reasons = brokers.refusals(2)
        assert f"supply_ended from CP-08 for session {auth.session_id[:8]}… of CP-07" in reasons[0]
        assert "which Central never authorized" in reasons[1]
        assert status_of(central, "CP-07") == "SUPPLYING"  # the running supply is untouched
        assert store.tickets(auth.session_id) == []
        assert store.tickets("made-up-session") == []
        wait_for(
            lambda: (
                sum(
                    1
                    for _, who, action, _ in store.audit_entries(50)
                    if (who, action) == ("cp:CP-08", "forged_event")
                )
                == 2
            ),
            10,
            "both refusals audited as CP-08's",
        )
        wait_for(
            lambda: any("of CP-07" in e.text for e in recorder.logs), 5, "shown to the operator"
        )

        brokers.send(topics.cp_events, "CP-07", as_cp("CP-07", end(auth.session_id, "CP-07", 1.25)))
        wait_for(lambda: store.tickets(auth.session_id), 20, "the real ticket")
        (ticket,) = store.tickets(auth.session_id)
        assert (ticket.cp_id, ticket.kwh) == ("CP-07", 1.25)
    finally:
        victim.stop()
        insider.stop()
