"""Property tests of the framed-TCP byte layer (wire.framing)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.errors import BadChecksum, FrameError, FrameTooLarge, MalformedFrame
from wire.framing import (
    MAX_DATA,
    BadFrame,
    Control,
    ControlByte,
    Frame,
    FrameDecoder,
    encode_frame,
    lrc,
)

STANDALONE = [Control.EOT, Control.ENQ, Control.ACK, Control.NACK]

# Any DATA a frame can carry: every byte but STX and ETX.
frame_data = st.binary(max_size=80).map(lambda b: b.replace(b"\x02", b"").replace(b"\x03", b""))
# DATA as the protocol's text produces it: no byte below 0x20 (fields never contain one).
text_data = st.lists(st.integers(0x20, 0xFF), min_size=1, max_size=80).map(bytes)

item = st.one_of(
    frame_data.map(lambda d: (encode_frame(d), Frame(d))),
    st.sampled_from(STANDALONE).map(lambda c: (bytes([c]), ControlByte(c))),
)


def key(event: object) -> tuple:
    """Comparable form of an event (exceptions do not compare equal)."""
    if isinstance(event, BadFrame):
        return ("bad", type(event.error), str(event.error), event.data)
    return ("ok", event)


def decode_in_chunks(stream: bytes, cuts: list[int]) -> tuple[list, FrameDecoder]:
    decoder = FrameDecoder()
    events: list = []
    bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        events.extend(decoder.feed(stream[start:end]))
    return events, decoder


@given(st.lists(item, max_size=12), st.lists(st.integers(min_value=0), max_size=20))
def test_valid_stream_decodes_identically_however_split(items, cuts) -> None:
    stream = b"".join(raw for raw, _ in items)
    expected = [event for _, event in items]
    whole = FrameDecoder().feed(stream)
    assert whole == expected
    chunked, decoder = decode_in_chunks(stream, cuts)
    assert chunked == expected
    assert not decoder.in_frame


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=20))
def test_any_bytes_decode_identically_however_split(stream, cuts) -> None:
    whole_decoder = FrameDecoder()
    whole = whole_decoder.feed(stream)
    chunked, decoder = decode_in_chunks(stream, cuts)
    assert [key(e) for e in chunked] == [key(e) for e in whole]
    assert decoder.in_frame == whole_decoder.in_frame


@settings(max_examples=300)
@given(st.binary(max_size=2500))
def test_arbitrary_bytes_only_produce_events(stream) -> None:
    decoder = FrameDecoder()
    for event in decoder.feed(stream):
        assert isinstance(event, Frame | ControlByte | BadFrame)
        if isinstance(event, BadFrame):
            assert isinstance(event.error, FrameError)
            assert len(event.data) <= MAX_DATA
        if isinstance(event, Frame):
            assert len(event.data) <= MAX_DATA


@given(text_data, st.data())
def test_a_changed_byte_is_never_accepted_silently(data, draw) -> None:
    """Replace any one byte of a frame whose DATA follows the protocol (no byte < 0x20).

    What holds: the original frame is never delivered, and the decoder either reports a
    BadFrame or is left waiting inside a frame (the stall timeout ends that). A changed DATA
    byte that is not STX/ETX, or a changed LRC, gives exactly one BadChecksum.
    """
    frame = bytearray(encode_frame(data))
    index = draw.draw(st.integers(0, len(frame) - 1), label="index")
    new = draw.draw(st.integers(0, 255).filter(lambda b: b != frame[index]), label="new byte")
    frame[index] = new
    decoder = FrameDecoder()
    events = decoder.feed(bytes(frame))
    assert Frame(data) not in events
    assert any(isinstance(e, BadFrame) for e in events) or decoder.in_frame
    in_data = 1 <= index <= len(data)
    if in_data and new not in (Control.STX, Control.ETX):
        assert [key(e) for e in events] == [
            ("bad", BadChecksum, str(events[0].error), bytes(frame[1:-2]))
        ]
    if index == len(frame) - 1:
        assert len(events) == 1
        assert isinstance(events[0].error, BadChecksum)
        assert events[0].data == data


def test_control_bytes_inside_data_weaken_the_check() -> None:
    """Why fields may not contain bytes below 0x20: with them a change can go unnoticed.

    DATA b"AB\\x05" has LRC 0x06 (ACK). Turning 0x05 into ETX ends the frame early: b"AB" has
    LRC 0x03, which is exactly the original ETX, and the original LRC reads as a lone ACK.
    """
    frame = bytearray(encode_frame(b"AB\x05"))
    frame[3] = Control.ETX
    assert FrameDecoder().feed(bytes(frame)) == [Frame(b"AB"), ControlByte(Control.ACK)]


@given(st.integers(MAX_DATA + 1, MAX_DATA + 400))
def test_oversized_data_gives_frame_too_large(size) -> None:
    decoder = FrameDecoder()
    body = b"A" * size
    events = decoder.feed(bytes([Control.STX]) + body + bytes([Control.ETX, lrc(body)]))
    assert len(events) == 1
    assert isinstance(events[0], BadFrame)
    assert isinstance(events[0].error, FrameTooLarge)
    # After the skipped frame the decoder is back in step.
    assert decoder.feed(encode_frame(b"OK")) == [Frame(b"OK")]


def test_exactly_max_data_is_accepted() -> None:
    body = b"A" * MAX_DATA
    assert FrameDecoder().feed(encode_frame(body)) == [Frame(body)]


@given(frame_data)
def test_encode_frame_round_trip(data) -> None:
    encoded = encode_frame(data)
    assert encoded[0] == Control.STX and encoded[-2] == Control.ETX
    assert encoded[-1] == lrc(data)
    assert FrameDecoder().feed(encoded) == [Frame(data)]


def test_encode_frame_refuses_what_cannot_be_framed() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame(b"A" * (MAX_DATA + 1))
    with pytest.raises(MalformedFrame):
        encode_frame(b"A\x03B")
    with pytest.raises(MalformedFrame):
        encode_frame(b"A\x02B")


def test_lrc_may_be_any_byte_even_stx_or_etx() -> None:
    for data, expected_lrc in ((b"AC", 0x02), (b"AB", 0x03), (b"A@", 0x01), (b"AA", 0x00)):
        assert lrc(data) == expected_lrc
        assert FrameDecoder().feed(encode_frame(data)) == [Frame(data)]


def test_garbage_between_frames_is_reported_and_frames_still_decode() -> None:
    events = FrameDecoder().feed(b"x" + encode_frame(b"HI") + b"\x03")
    assert isinstance(events[0], BadFrame) and isinstance(events[0].error, MalformedFrame)
    assert events[1] == Frame(b"HI")
    assert isinstance(events[2], BadFrame)
