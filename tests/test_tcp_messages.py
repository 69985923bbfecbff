"""The `#` text messages of both channels: round trips, clear errors, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
from enum import StrEnum
from typing import get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.errors import BadField, MessageError, UnknownOpcode
from wire.health_messages import HEALTH_REPLIES, HEALTH_REQUESTS, Health, HealthKo, HealthOk
from wire.tcp_messages import (
    REQUESTS,
    RESPONSES,
    Alive,
    Auth,
    Authorized,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Recovered,
    Register,
    Registered,
    Rejected,
)

CODECS = [
    (REQUESTS, [Register, Auth, Heartbeat, Fault, Recovered]),
    (RESPONSES, [Registered, Rejected, Authorized, Alive, Noted, Error]),
    (HEALTH_REQUESTS, [Health]),
    (HEALTH_REPLIES, [HealthOk, HealthKo]),
]
ALL = [(codec, cls) for codec, classes in CODECS for cls in classes]

# Field text as PROTOCOL.md allows it: no '#', nothing below 0x20, valid UTF-8.
field_text = st.text(
    alphabet=st.characters(
        min_codepoint=0x20, blacklist_characters="#", blacklist_categories=["Cs"]
    ),
    min_size=1,
    max_size=30,
)
numbers = st.floats(allow_nan=False, allow_infinity=False)


def strategy_for(cls: type) -> st.SearchStrategy:
    hints = get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        optional = field.metadata.get("optional", False)
        if kind is str:
            strat = st.one_of(st.just(""), field_text) if optional else field_text
        elif kind is float:
            strat = numbers
        elif kind == (float | None):
            strat = st.one_of(st.none(), numbers)
        elif isinstance(kind, type) and issubclass(kind, StrEnum):
            strat = st.sampled_from(list(kind))
        else:  # pragma: no cover - a new field type needs a strategy here
            raise AssertionError(f"no strategy for {kind!r}")
        kwargs[field.name] = strat
    return st.builds(cls, **kwargs)


@pytest.mark.parametrize(("codec", "cls"), ALL, ids=lambda v: getattr(v, "__name__", ""))
@settings(max_examples=60)
@given(data=st.data())
def test_every_message_round_trips(codec, cls, data) -> None:
    message = data.draw(strategy_for(cls))
    text = message.to_text()
    assert text.split("#")[0] == cls.OPCODE
    assert codec.parse(text) == message
    assert codec.parse(message.to_bytes()) == message


def test_examples_from_the_protocol() -> None:
    assert REQUESTS.parse("REGISTER#CP1#Plaza Mayor#120.5#300") == Register(
        "CP1", "Plaza Mayor", 120.5, 300.0
    )
    assert REQUESTS.parse("REGISTER#CP1###") == Register("CP1")
    assert Register("CP1").to_text() == "REGISTER#CP1###"
    assert RESPONSES.parse("ALIVE#CP1#STOPPED").admin_state == "STOPPED"
    assert HEALTH_REQUESTS.parse("HEALTH#CP1#0.35#ACTIVE#UP") == Health("CP1", 0.35, "ACTIVE", "UP")
    assert HealthKo("CP1", "cp id mismatch").to_text() == "KO#CP1#cp id mismatch"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("HEARTBEAT#CP1#MAYBE", ["engine", "OK", "MAYBE"]),
        ("HEARTBEAT#CP1", ["HEARTBEAT", "2 fields", "got 1"]),
        ("HEARTBEAT#CP1#OK#extra", ["2 fields", "got 3"]),
        ("AUTH##secret", ["cp_id", "empty"]),
        ("REGISTER#CP1#here#east#1", ["'x'", "number", "east"]),
        ("REGISTER#CP1#here#nan#1", ["'x'", "number"]),
        ("REGISTER#CP1#here# 1#1", ["'x'", "number"]),
        ("REGISTER#CP1#here#1e999#1", ["'x'", "range"]),
        ("FAULT#CP1#bad\x01reason", ["reason", "control"]),
    ],
)
def test_bad_fields_say_what_is_wrong(text, words) -> None:
    with pytest.raises(BadField) as info:
        REQUESTS.parse(text)
    for word in words:
        assert word in str(info.value)


def test_unknown_opcode_and_bad_encoding() -> None:
    with pytest.raises(UnknownOpcode, match="HELLO"):
        REQUESTS.parse("HELLO#world")
    with pytest.raises(UnknownOpcode):
        REQUESTS.parse("ALIVE#CP1#ACTIVE")  # a response is not a request
    with pytest.raises(UnknownOpcode):
        REQUESTS.parse("")
    with pytest.raises(MessageError, match="UTF-8"):
        REQUESTS.parse(b"FAULT#CP1#\xff")


def test_formatting_refuses_what_the_peer_would_refuse() -> None:
    with pytest.raises(BadField, match="'#'"):
        Fault("CP1", "a#b").to_text()
    with pytest.raises(BadField, match="control"):
        Fault("CP1", "line\nbreak").to_text()
    with pytest.raises(BadField, match="empty"):
        Error("").to_text()
    with pytest.raises(BadField, match="finite"):
        Registered("CP1", "secret", float("inf")).to_text()
    with pytest.raises(BadField, match="UTF-8"):
        Fault("CP1", "\ud800").to_bytes()


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_fuzz_only_message_errors(payload) -> None:
    for codec, _ in CODECS:
        with contextlib.suppress(MessageError):
            codec.parse(payload)  # returning a message is fine too; any other error fails


opcodes = st.sampled_from([cls.OPCODE for _, cls in ALL] + ["", "register", "OK ", "ERROR\x00"])


@settings(max_examples=300)
@given(opcodes, st.lists(st.text(max_size=12), max_size=6))
def test_fuzz_known_opcodes_with_random_fields(opcode, fields) -> None:
    text = "#".join([opcode, *fields])
    for codec, _ in CODECS:
        try:
            message = codec.parse(text)
        except MessageError:
            continue
        # Whatever parsed must format back to text that parses to the same message.
        assert codec.parse(message.to_text()) == message
