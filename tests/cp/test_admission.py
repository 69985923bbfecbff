"""``cp_core.command_guard.admit``: the one open-check-accept of Central's sealed commands that
EV_CP_E's engine and EV_OCPP's Kafka side both use (no I/O, no broker)."""

from __future__ import annotations

import dataclasses

from cp_core.command_guard import Refusal, ReplayWindow, admit
from wire.kafka.messages import Authorize, CommandRefused, Stop
from wire.kafka.sealed import cp_kid, key_bytes, new_key, seal

CP = "CP-A1"
TOPIC = "evc.cp.commands"


def _sealed(event: Stop | Authorize, key: bytes, cp_id: str = CP) -> bytes:
    return seal(event, key=key, kid=cp_kid(cp_id), topic=TOPIC)


def test_an_admitted_command_is_accepted_and_stored_before_it_is_returned() -> None:
    key = key_bytes(new_key())
    window, stored = ReplayWindow(), []
    stop = Stop(cp_id=CP, seq=3)
    admitted = admit(
        _sealed(stop, key),
        cp_id=CP,
        key=key,
        window=window,
        store=lambda w: stored.append(w.to_record()),
    )
    assert admitted == stop
    assert window.last_seq == 3
    assert stored == [{"last_seq": 3, "sessions": []}]


def test_a_replay_a_forgery_and_garbage_are_refused_and_nothing_is_stored() -> None:
    key, other = key_bytes(new_key()), key_bytes(new_key())
    window, stored = ReplayWindow(last_seq=7), []

    def run(value: bytes) -> Refusal:
        refused = admit(value, cp_id=CP, key=key, window=window, store=stored.append)
        assert isinstance(refused, Refusal)
        return refused

    assert run(_sealed(Stop(cp_id=CP, seq=7), key)).reason.startswith("replayed")
    assert run(_sealed(Stop(cp_id=CP, seq=8), other)).reason.startswith("forged")
    assert run(_sealed(Stop(cp_id=CP, seq=8), key, cp_id="CP-B")).reason.startswith("forged")
    assert run(b"\xff").reason.startswith("unsealed")
    assert stored == [] and window.last_seq == 7


def test_a_session_is_authorized_once() -> None:
    key = key_bytes(new_key())
    window: ReplayWindow = ReplayWindow()
    authorize = Authorize(
        session_id="s-1", request_id="r", driver_id="D", cp_id=CP, price=1.0,
        expires_at="2030-01-01T00:00:00.000Z", seq=1,
    )  # fmt: skip
    assert admit(_sealed(authorize, key), cp_id=CP, key=key, window=window, store=id) == authorize
    again = dataclasses.replace(authorize, seq=2)
    refused = admit(_sealed(again, key), cp_id=CP, key=key, window=window, store=id)
    assert isinstance(refused, Refusal) and "already authorized" in refused.reason


def test_a_refusal_tells_central_with_a_command_refused_event() -> None:
    event = Refusal("replayed: seq 1 is not above 2", "stop").event(CP, offset=41)
    assert isinstance(event, CommandRefused)
    assert (event.cp_id, event.reason, event.command_type, event.offset) == (
        CP,
        "replayed: seq 1 is not above 2",
        "stop",
        41,
    )
