"""The rules of one framed-TCP exchange (``wire.tcp_exchange``), without sockets: what both
the blocking and the asyncio monitor clients do with each event."""

from __future__ import annotations

import pytest

from wire.errors import (
    BadChecksum,
    ConnectionLost,
    FrameTooLarge,
    HandshakeRefused,
    TooManyAttempts,
)
from wire.framing import BadFrame, Control, ControlByte, Frame
from wire.tcp_exchange import ACK, NACK, RequestExchange, handshake

FRAME = b"\x02HEARTBEAT#CP-1#OK\x03\x00"


def control(code: Control) -> ControlByte:
    return ControlByte(code)


def test_the_handshake() -> None:
    assert handshake(control(Control.ACK)) is True
    assert handshake(control(Control.ENQ)) is False
    assert handshake(Frame(b"ALIVE#CP-1#ACTIVE")) is False
    with pytest.raises(HandshakeRefused):
        handshake(control(Control.NACK))
    with pytest.raises(ConnectionLost):
        handshake(control(Control.EOT))


def test_ack_then_response() -> None:
    ex = RequestExchange(FRAME)
    assert ex.waiting_for == "the ACK of the request"
    assert ex.feed(control(Control.ACK)).send == b""
    assert ex.waiting_for == "the response"
    step = ex.feed(Frame(b"ALIVE#CP-1#ACTIVE"))
    assert (step.send, step.response) == (ACK, b"ALIVE#CP-1#ACTIVE")


def test_a_response_before_the_ack_is_the_answer() -> None:
    step = RequestExchange(FRAME).feed(Frame(b"ALIVE#CP-1#ACTIVE"))
    assert (step.send, step.response) == (ACK, b"ALIVE#CP-1#ACTIVE")


def test_a_nacked_request_is_resent_three_times_in_all() -> None:
    ex = RequestExchange(FRAME)
    for _ in range(2):
        step = ex.feed(control(Control.NACK))
        assert (step.send, step.resent) == (FRAME, True)
    with pytest.raises(TooManyAttempts):
        ex.feed(control(Control.NACK))


def test_bad_responses_are_nacked_and_the_third_ends_the_session() -> None:
    ex = RequestExchange(FRAME)
    ex.feed(control(Control.ACK))
    bad = BadFrame(BadChecksum("LRC"), b"ALIVE")
    assert ex.feed(bad).send == NACK
    assert ex.feed(control(Control.NACK)).send == b""  # a stray NACK after the ACK: ignored
    assert ex.feed(bad).send == NACK
    last = ex.feed(bad)
    assert last.send == NACK and isinstance(last.error, TooManyAttempts)


def test_eot_and_oversized_frames_end_the_session() -> None:
    with pytest.raises(ConnectionLost):
        RequestExchange(FRAME).feed(control(Control.EOT))
    ex = RequestExchange(FRAME)
    ex.feed(control(Control.ACK))
    with pytest.raises(ConnectionLost):
        ex.feed(BadFrame(FrameTooLarge("too big")))
    # before the ACK a bad frame is only noise
    assert RequestExchange(FRAME).feed(BadFrame(BadChecksum("LRC"))).send == b""
