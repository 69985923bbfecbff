"""One vocabulary: CP status, end and deny reasons, the Central link, as enums in ``wire``,
carried by the JSON codec as the ``#`` codec carries them, with unchanged wire spellings."""

from __future__ import annotations

import json

import pytest

from wire.errors import InvalidEvent
from wire.kafka import messages as m
from wire.reasons import DenyReason, EndReason, deny_text, describe_reason, is_interruption
from wire.states import CpStatus, Origin


def test_wire_spellings_are_those_of_the_protocol() -> None:
    assert [s.value for s in CpStatus] == [
        "ACTIVE",
        "STOPPED",
        "SUPPLYING",
        "BROKEN",
        "DISCONNECTED",
    ]
    assert [r.value for r in EndReason] == [
        "unplugged",
        "stopped",
        "fault",
        "monitor_lost",
        "engine_restart",
    ]
    assert [o.value for o in Origin] == ["app", "cp"]
    assert deny_text(DenyReason.CP_NOT_AVAILABLE, "BROKEN") == "cp_not_available: BROKEN"
    assert deny_text(DenyReason.CP_BUSY) == "cp_busy"


def test_every_code_has_words_and_no_alias_is_left() -> None:
    words = [describe_reason(code) for code in [*EndReason, *DenyReason]]
    assert len(set(words)) == len(words)  # each code its own words
    assert describe_reason("cp_not_available: BROKEN") == "charging point is not available (BROKEN)"
    assert describe_reason("busy") == "busy"  # the old alias is no wire code
    assert is_interruption(EndReason.FAULT) and not is_interruption("unplugged")
    assert [r for r in EndReason if r.interrupted] == list(EndReason)[1:]


def _ticket(reason: object) -> bytes:
    return json.dumps(
        {
            "type": "ticket",
            "v": 1,
            "ts": "t",
            "session_id": "s",
            "cp_id": "c",
            "driver_id": "d",
            "kwh": 1.0,
            "eur": 0.5,
            "started_at": "a",
            "ended_at": "b",
            "reason": reason,
        }
    ).encode()


def test_json_enum_fields_parse_to_members_and_write_their_spelling() -> None:
    ticket = m.DRIVER_NOTICES.parse(_ticket("fault"))
    assert ticket.reason is EndReason.FAULT  # type: ignore[attr-defined]
    assert json.loads(ticket.to_json())["reason"] == "fault"
    state = m.CpState(cp_id="c", location="", x=None, y=None, price=0.3, status=CpStatus.BROKEN)
    assert b'"status":"BROKEN"' in state.to_json()
    assert m.NETWORK_STATE.parse(state.to_json()).status is CpStatus.BROKEN  # type: ignore[attr-defined]


@pytest.mark.parametrize("reason", ["FAULT", "oops", 3, None, True])
def test_json_enum_fields_refuse_what_is_not_a_member(reason: object) -> None:
    with pytest.raises(InvalidEvent, match="ticket.reason"):
        m.DRIVER_NOTICES.parse(_ticket(reason))
