"""``wire.session.FramedSession``: the ACK/NACK rules both ends follow, without sockets."""

from __future__ import annotations

from wire.errors import FrameTooLarge
from wire.framing import Control, FrameDecoder, encode_frame
from wire.session import ACK, MAX_ATTEMPTS, NACK, FramedSession


def test_the_handshake_from_both_ends() -> None:
    server = FramedSession()
    assert server.open_answer(Control.ENQ) == (ACK, True)
    assert FramedSession().open_answer(Control.ENQ, refuse=True) == (NACK, False)
    other = FramedSession()
    assert other.open_answer(None) == (NACK, False) and other.problem == "expected ENQ first"
    client = FramedSession()
    assert client.open_result(Control.ACK) is True
    assert client.open_result(Control.ENQ) is None  # ignored while waiting
    assert client.open_result(Control.NACK) is False and "NACK" in client.problem
    assert FramedSession().open_result(Control.EOT) is False


def test_our_frame_is_sent_at_most_three_times_in_all() -> None:
    session = FramedSession()
    frame = encode_frame(b"ALIVE#CP1#ACTIVE")
    session.sent(frame, now=10.0)
    assert session.attempts == 1 and session.awaiting is frame
    assert session.nacked(now=10.5) is frame and session.attempts == 2
    assert session.nacked(now=11.0) is frame and session.attempts == MAX_ATTEMPTS == 3
    assert session.nacked(now=11.5) is None and session.problem == "NACKed 3 times"


def test_an_ack_ends_the_wait_and_only_a_missing_ack_is_overdue() -> None:
    session = FramedSession()
    assert not session.overdue(100.0, 5.0)  # nothing sent
    session.sent(b"x", now=10.0)
    assert not session.overdue(15.0, 5.0) and session.overdue(15.1, 5.0)
    session.nacked(now=14.0)  # a resend restarts the clock
    assert not session.overdue(18.9, 5.0)
    session.acked()
    assert session.awaiting == b"" and not session.overdue(100.0, 5.0)


def test_bad_frames_are_nacked_and_three_in_a_row_end_the_session() -> None:
    session = FramedSession()
    bad = ValueError("bad LRC")
    assert session.bad_frame(bad) == NACK and not session.too_many_bad
    assert session.bad_frame(bad) == NACK
    assert session.good_frame() == ACK  # a good frame between: the series starts over
    assert session.bad_frame(bad) == NACK and session.bad_frame(bad) == NACK
    assert session.bad_frame(bad) == NACK and session.too_many_bad  # NACKed, then ended
    assert session.problem == "3 bad frames in a row: bad LRC"


def test_an_oversized_frame_ends_the_session_without_a_nack() -> None:
    session = FramedSession()
    assert session.bad_frame(FrameTooLarge("2000 bytes")) is None
    assert session.problem == "oversized frame: 2000 bytes"


def test_a_whole_exchange_fed_from_the_decoder() -> None:
    """The server's side of one request whose response is NACKed once, as bytes in/out."""
    decoder, session, wrote = FrameDecoder(), FramedSession(), []
    for event in decoder.feed(bytes([Control.ENQ])):
        answer, opened = session.open_answer(event.code)  # type: ignore[union-attr]
        wrote.append(answer)
        assert opened
    (request,) = decoder.feed(encode_frame(b"HEARTBEAT#CP1#OK"))
    response = encode_frame(b"ALIVE#CP1#ACTIVE")
    wrote.append(session.good_frame() + response)
    session.sent(response, now=1.0)
    for event in decoder.feed(bytes([Control.NACK, Control.ACK])):
        if event.code == Control.NACK:  # type: ignore[union-attr]
            again = session.nacked(now=1.1)
            assert again is not None
            wrote.append(again)
        else:
            session.acked()
    assert wrote == [ACK, ACK + response, response] and session.awaiting == b""
