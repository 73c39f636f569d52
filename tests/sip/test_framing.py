"""Stream framing (RFC 3261 §18.3) and CRLF keep-alives (RFC 5626 §3.5.1)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.sip.errors import ParseError
from agentconsole.sip.framing import (
    FramedMessage,
    FrameEvent,
    KeepAlivePing,
    KeepAlivePong,
    StreamFramer,
)


def sip(body: bytes = b"", *, cl_header: str = "Content-Length", extra: str = "") -> bytes:
    head = (
        "OPTIONS sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"{extra}"
        f"{cl_header}: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


MSG_A = sip()
MSG_B = sip(b"v=0\r\n\r\n\x00\x01binary\r\n\r\nmore", extra="Content-Type: application/sdp\r\n")
MSG_C = sip(b"x" * 300, cl_header="l")
MSG_D = sip(b"abc", cl_header="content-LENGTH   ")

STREAM = MSG_A + b"\r\n\r\n" + MSG_B + MSG_C + b"\r\n" + MSG_D + b"\r\n\r\n" + b"\r\n\r\n" + MSG_A
EXPECTED: list[FrameEvent] = [
    FramedMessage(MSG_A),
    KeepAlivePing(),
    FramedMessage(MSG_B),
    FramedMessage(MSG_C),
    KeepAlivePong(),
    FramedMessage(MSG_D),
    KeepAlivePing(),
    KeepAlivePing(),
    FramedMessage(MSG_A),
]


def feed_chunks(framer: StreamFramer, data: bytes, sizes: list[int]) -> list[FrameEvent]:
    events: list[FrameEvent] = []
    pos = 0
    for size in sizes:
        events += framer.feed(data[pos : pos + size])
        pos += size
    events += framer.feed(data[pos:])
    return events


def test_whole_stream_in_one_chunk() -> None:
    framer = StreamFramer()
    assert framer.feed(STREAM) == EXPECTED
    assert framer.buffered == 0


def test_byte_at_a_time() -> None:
    framer = StreamFramer()
    events = feed_chunks(framer, STREAM, [1] * len(STREAM))
    assert events == EXPECTED
    assert framer.buffered == 0


@pytest.mark.parametrize("seed", range(20))
def test_random_chunks(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 64) for _ in range(len(STREAM) // 8)]
    framer = StreamFramer()
    assert feed_chunks(framer, STREAM, sizes) == EXPECTED
    assert framer.buffered == 0


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_split_points_give_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    sizes = [b - a for a, b in zip([0, *points], points, strict=False)]
    framer = StreamFramer()
    assert feed_chunks(framer, STREAM, sizes) == EXPECTED


def test_partial_message_waits_for_body() -> None:
    framer = StreamFramer()
    msg = sip(b"0123456789")
    assert framer.feed(msg[:-3]) == []
    assert framer.buffered == len(msg) - 3
    assert framer.feed(msg[-3:]) == [FramedMessage(msg)]


def test_body_with_nul_and_crlfcrlf_is_kept_intact() -> None:
    body = b"\x00\r\n\r\n\x00INVITE sip:x SIP/2.0\r\n\r\n"
    msg = sip(body)
    (event,) = StreamFramer().feed(msg)
    assert isinstance(event, FramedMessage)
    assert event.data.endswith(body)


def test_lone_crlf_reported_once_disambiguated() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []  # could still become a ping
    assert framer.feed(MSG_A) == [KeepAlivePong(), FramedMessage(MSG_A)]


def test_ping_alone_is_reported_at_once() -> None:
    assert StreamFramer().feed(b"\r\n\r\n") == [KeepAlivePing()]


def test_lf_only_line_ends_are_tolerated() -> None:
    msg = sip(b"hello").replace(b"\r\n", b"\n")
    assert StreamFramer().feed(msg + msg) == [FramedMessage(msg), FramedMessage(msg)]


def test_folded_content_length_value() -> None:
    msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n   3\r\nCSeq: 1 OPTIONS\r\n\r\nhey"
    assert StreamFramer().feed(msg) == [FramedMessage(msg)]


def test_duplicate_equal_content_length_is_accepted() -> None:
    msg = sip(b"abc", extra="l: 3\r\n")
    assert StreamFramer().feed(msg) == [FramedMessage(msg)]


BAD_STREAMS = {
    "missing": b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\nbody",
    "negative": b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n",
    "non-numeric": b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 12abc\r\n\r\n",
    "two-different": b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nl: 4\r\n\r\nabcd",
}


@pytest.mark.parametrize("name", sorted(BAD_STREAMS))
def test_bad_content_length_raises(name: str) -> None:
    framer = StreamFramer()
    with pytest.raises(ParseError) as info:
        framer.feed(BAD_STREAMS[name])
    assert info.value.status == 400
    # The stream position is lost: the framer refuses to go on.
    with pytest.raises(ParseError):
        framer.feed(MSG_A)


def test_bad_content_length_detected_byte_at_a_time() -> None:
    framer = StreamFramer()
    data = BAD_STREAMS["negative"]
    with pytest.raises(ParseError):
        for i in range(len(data)):
            framer.feed(data[i : i + 1])


def test_oversize_header_block_without_end() -> None:
    framer = StreamFramer(max_header_size=1024)
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n")
    with pytest.raises(ParseError) as info:
        for _ in range(100):
            framer.feed(b"X-Filler: " + b"y" * 40 + b"\r\n")
    assert info.value.status == 513


def test_oversize_header_block_complete() -> None:
    msg = sip(extra="X-Filler: " + "y" * 2000 + "\r\n")
    with pytest.raises(ParseError) as info:
        StreamFramer(max_header_size=1024).feed(msg)
    assert info.value.status == 513


def test_oversize_body_rejected_before_it_arrives() -> None:
    head = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 100000\r\n\r\n"
    with pytest.raises(ParseError) as info:
        StreamFramer(max_message_size=65536).feed(head)
    assert info.value.status == 513


def test_absurd_content_length_digits() -> None:
    head = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    with pytest.raises(ParseError):
        StreamFramer().feed(head)


def test_message_at_exact_size_limit_passes() -> None:
    msg = sip(b"z" * 100)
    assert StreamFramer(max_message_size=len(msg)).feed(msg) == [FramedMessage(msg)]
    with pytest.raises(ParseError):
        StreamFramer(max_message_size=len(msg) - 1).feed(msg)
