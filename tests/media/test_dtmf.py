"""RFC 4733 packetisation, stream splicing, receiving, and SIP INFO bodies (no I/O)."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.config import MediaConfig
from agentconsole.media.audio import ToneBackend
from agentconsole.media.dtmf import (
    EVENT_CODES,
    PAUSE_S,
    DtmfError,
    EventReceiver,
    InboundSplicer,
    OutboundSplicer,
    event_packets,
    event_payload,
    info_body,
    parse_digits,
    parse_info,
    plan,
    rtp_fields,
    rtp_packet,
)
from agentconsole.media.peer import MediaSession
from agentconsole.media.sdp import MediaNegotiationError, parse_sdp
from tests.waiting import wait_until

SYMBOLS = "0123456789*#ABCD"


def decode(payload: bytes) -> tuple[int, bool, int, int]:
    code, flags, duration = struct.unpack("!BBH", payload)
    return code, bool(flags & 0x80), flags & 0x3F, duration


def test_event_codes_for_all_16_symbols() -> None:
    assert [EVENT_CODES[s] for s in SYMBOLS] == list(range(16))
    for symbol in SYMBOLS:
        code, _, _, _ = decode(event_packets(symbol)[0].payload)
        assert code == SYMBOLS.index(symbol)
    assert decode(event_packets("a")[0].payload)[0] == 12  # lower case accepted


def test_default_event_durations_grow_then_three_end_packets() -> None:
    packets = event_packets("5")  # 100 ms, 50 ms packets, 8 kHz
    fields = [decode(p.payload) for p in packets]
    assert [f[3] for f in fields] == [400, 800, 800, 800]
    assert [f[1] for f in fields] == [False, True, True, True]
    assert [p.marker for p in packets] == [True, False, False, False]
    assert all(f[2] == 10 for f in fields)  # volume -10 dBm0
    assert [p.at for p in packets] == pytest.approx([0.0, 0.05, 0.1, 0.15])


@given(st.integers(40, 2000), st.integers(10, 100))
def test_event_packets_invariants(duration_ms: int, interval_ms: int) -> None:
    packets = event_packets("#", duration_ms=duration_ms, interval_ms=interval_ms)
    fields = [decode(p.payload) for p in packets]
    durations = [f[3] for f in fields]
    ends = [f[1] for f in fields]
    assert ends[-3:] == [True, True, True] and sum(ends) == 3
    assert durations == sorted(durations)
    assert durations[-1] == round(duration_ms * 8)  # 8 samples per ms
    assert sum(p.marker for p in packets) == 1 and packets[0].marker
    assert [p.at for p in packets] == sorted(p.at for p in packets)


def test_short_event_is_only_end_packets_with_marker_on_first() -> None:
    packets = event_packets("1", duration_ms=40, interval_ms=50)
    assert len(packets) == 3
    assert [p.marker for p in packets] == [True, False, False]
    assert all(decode(p.payload)[1] for p in packets)


def test_payload_layout() -> None:
    assert event_payload(11, end=True, duration=1600) == bytes([11, 0x8A, 0x06, 0x40])


def test_plan_spacing_and_comma_pause() -> None:
    steps = plan("12,3")
    assert [p.digit for p in steps] == ["1", "2", ",", "3"]
    assert [p.start for p in steps] == [0.0, 0.2, 0.4, 0.4 + PAUSE_S]
    # the next digit never starts before the previous one's last end packet
    slow = plan("12", duration_ms=100, gap_ms=50, interval_ms=50)
    assert slow[1].start >= event_packets("1")[-1].at + 0.05


@pytest.mark.parametrize("text", ["", "12x", "1 2", "E", "\n"])
def test_bad_digits_raise(text: str) -> None:
    with pytest.raises(DtmfError):
        parse_digits(text)


@pytest.mark.parametrize(("duration", "gap"), [(10, 100), (100, 10), (7000, 100)])
def test_bad_timing_raises(duration: int, gap: int) -> None:
    with pytest.raises(DtmfError):
        plan("1", duration_ms=duration, gap_ms=gap)


def test_rtp_packet_fields() -> None:
    data = rtp_packet(payload_type=101, seq=65535, timestamp=2**32 + 5, ssrc=0xDEADBEEF,
                      marker=True, payload=b"abcd")
    assert data[0] == 0x80 and data[1] == 0x80 | 101 and data[12:] == b"abcd"
    assert rtp_fields(data) == (101, 65535, 5, 0xDEADBEEF)


def audio(seq: int, ts: int, ssrc: int = 7) -> bytes:
    return rtp_packet(payload_type=96, seq=seq, timestamp=ts, ssrc=ssrc, marker=True,
                      payload=b"\x00" * 20)


def test_outbound_splicer_keeps_one_continuous_stream() -> None:
    sp = OutboundSplicer(ssrc=7, clock_rate=48000)
    out = [sp.audio(audio(1000 + i, 960 * i), i * 0.02) for i in range(3)]
    assert [rtp_fields(p)[1] for p in out if p] == [1000, 1001, 1002]
    # an event starts on the audio clock, 10 ms (480 ticks) after the last audio packet
    ts = sp.timestamp_at(0.05)
    assert ts == 960 * 2 + 480
    sp.event_active = True
    assert sp.audio(audio(1003, 960 * 3), 0.06) is None  # withheld while the event plays
    events = [sp.event_packet(payload_type=101, timestamp=ts, marker=p.marker,
                              payload=p.payload) for p in event_packets("7")]
    sp.event_active = False
    after = sp.audio(audio(1004, 960 * 4), 0.08)
    assert after is not None
    seqs = [rtp_fields(p)[1] for p in events] + [rtp_fields(after)[1]]
    assert seqs == [1003, 1004, 1005, 1006, 1007]  # no gap, no reuse
    assert {rtp_fields(p)[2] for p in events} == {ts}  # one timestamp per event
    assert {rtp_fields(p)[3] for p in events} == {7}  # same SSRC as the audio
    assert [p[1] >> 7 for p in events] == [1, 0, 0, 0]
    assert after[4:] == audio(1004, 960 * 4)[4:]  # only the sequence number changed
    other = audio(5, 5, ssrc=9)
    assert sp.audio(other, 0.1) == other  # other SSRCs pass untouched


def test_outbound_sequence_wraps() -> None:
    sp = OutboundSplicer(ssrc=1)
    sp.audio(audio(65535, 0, ssrc=1), 0.0)
    packet = sp.event_packet(payload_type=101, timestamp=1, marker=True, payload=b"1234")
    assert rtp_fields(packet)[1] == 0


def test_inbound_splicer_closes_the_gaps_left_by_events() -> None:
    sp = InboundSplicer()
    assert sp.audio_seq(10) == 10
    for seq in (11, 12, 13, 14):
        sp.note_event(seq)
    assert sp.audio_seq(15) == 11
    assert sp.audio_seq(9) == 9  # a late packet from before the event
    wrap = InboundSplicer()
    wrap.note_event(65534)
    wrap.note_event(65535)
    assert wrap.audio_seq(0) == 65534 and wrap.audio_seq(65533) == 65533


def test_receiver_reports_each_digit_once() -> None:
    rx = EventReceiver()
    got = []
    for digit, ts in (("1", 1000), ("2", 3000), ("#", 5000)):
        for p in event_packets(digit):
            got += rx.feed(ts, p.payload)
    assert [(g.digit, g.duration_ms, g.timestamp) for g in got] == [
        ("1", 100, 1000), ("2", 100, 3000), ("#", 100, 5000)]
    assert rx.feed(5000, event_packets("#")[-1].payload) == []  # late repeat


def test_receiver_lost_end_packets_reported_by_the_next_event() -> None:
    rx = EventReceiver()
    first = event_packets("4")
    assert rx.feed(100, first[0].payload) == []
    got = rx.feed(900, event_packets("5")[0].payload)
    assert [(g.digit, g.duration_ms) for g in got] == [("4", 50)]
    assert [g.digit for g in rx.flush()] == ["5"]
    assert rx.flush() == []


def test_receiver_ignores_non_dtmf_events_and_short_payloads() -> None:
    rx = EventReceiver()
    assert rx.feed(1, event_payload(16, end=True, duration=800)) == []  # flash
    assert rx.feed(2, b"\x01") == []
    assert rx.flush() == []


# ----- SIP INFO ---------------------------------------------------------------------------
def test_info_body_building() -> None:
    assert info_body("5", 160) == b"Signal=5\r\nDuration=160\r\n"
    assert info_body("a") == b"Signal=A\r\nDuration=100\r\n"
    with pytest.raises(DtmfError):
        info_body(",")


@pytest.mark.parametrize(("ctype", "body", "expected"), [
    ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", ("5", 160)),
    ("Application/DTMF-Relay; charset=x", b"Signal= #\nDuration= 250\n", ("#", 250)),
    ("application/dtmf-relay", b"Signal=10\r\nDuration=100\r\n", ("*", 100)),
    ("application/dtmf-relay", b"Signal=d\r\n", ("D", 0)),
    ("application/dtmf", b"7", ("7", 0)),
    ("application/dtmf", b"11\r\n", ("#", 0)),
])
def test_info_parsing(ctype: str, body: bytes, expected: tuple[str, int]) -> None:
    assert parse_info(ctype, body) == expected


@pytest.mark.parametrize(("ctype", "body"), [
    ("application/dtmf-relay", b""),
    ("application/dtmf-relay", b"Signal=X\r\nDuration=100\r\n"),
    ("application/dtmf-relay", b"Signal=16\r\n"),
    ("application/dtmf-relay", b"Signal=5\r\nDuration=abc\r\n"),
    ("application/dtmf-relay", b"Signal=5\r\nDuration=-3\r\n"),
    ("application/dtmf-relay", b"Signal=\xff\r\n"),
    ("application/dtmf", b"55"),
    ("application/sdp", b"Signal=5\r\n"),
    ("text/plain", b"5"),
])
def test_bad_info_bodies_are_ignored(ctype: str, body: bytes) -> None:
    assert parse_info(ctype, body) is None


@given(st.text(max_size=40), st.binary(max_size=60))
def test_info_parser_never_raises(ctype: str, body: bytes) -> None:
    result = parse_info(ctype, body)
    assert result is None or result[0] in EVENT_CODES


# ----- in the audio stream of two MediaSessions ----------------------------------------------
async def _pair(codecs: tuple[str, ...]) -> tuple[MediaSession, MediaSession, list[float]]:
    arrivals: list[float] = []
    config = MediaConfig(host_addresses=("127.0.0.1",), ice_servers=(), codecs=codecs)
    a = MediaSession(config, ToneBackend(440))
    b = MediaSession(config, ToneBackend(880),
                     on_remote_frame=lambda frame: arrivals.append(time.monotonic()))
    await a.accept_answer(await b.accept_offer(await a.create_offer()))
    return a, b, arrivals


@pytest.mark.parametrize("codecs", [("opus",), ("PCMU",)])
async def test_media_sessions_exchange_digits_without_stalling_audio(
        codecs: tuple[str, ...]) -> None:
    a, b, arrivals = await _pair(codecs)
    got: list[tuple[str, int]] = []
    b.on_dtmf = lambda digit, ms: got.append((digit, ms))
    try:
        assert a.dtmf_payload_type == b.dtmf_payload_type == 101
        assert a.codec == codecs[0]
        await wait_until(lambda: len(arrivals) >= 25, 5, "audio to flow")
        sent_at = time.monotonic()
        await a.send_dtmf("7A")
        done_at = time.monotonic()
        # Both digits in, and 0.4 s of audio (20 frames) after the last event.
        await wait_until(lambda: len(got) >= 2 and sum(t > done_at for t in arrivals) >= 20,
                         5, "both digits and the audio after them")
        assert got == [("7", 100), ("A", 100)]
        during = [t for t in arrivals if t > sent_at]
        gaps = [y - x for x, y in zip(during, during[1:], strict=False)]
        assert len(during) > 20 and max(gaps) < 0.3  # audio is back right after each event
        assert a._hooks is not None and a._hooks.outbound.withheld > 0
    finally:
        await a.close()
        await b.close()


async def test_digits_sent_before_the_media_connects_wait_for_it() -> None:
    """The call is "talking" at the 200 OK; ICE and DTLS finish a moment later. A feature
    code sent in that window (an agent pressing Record at once) must not be lost."""
    a, b, _arrivals = await _pair(("opus",))
    got: list[str] = []
    b.on_dtmf = lambda digit, _ms: got.append(digit)
    try:
        assert not a.connected  # straight after the answer: still connecting
        await a.send_dtmf("*1")
        await wait_until(lambda: len(got) == 2, 5, "both digits")
        assert got == ["*", "1"]
    finally:
        await a.close()
        await b.close()


async def test_event_only_offer_is_refused_and_unsent_dtmf_raises() -> None:
    a = MediaSession(MediaConfig(host_addresses=("127.0.0.1",)), ToneBackend(440))
    b = MediaSession(MediaConfig(host_addresses=("127.0.0.1",)), ToneBackend(880))
    try:
        with pytest.raises(DtmfError):
            await b.send_dtmf("1")  # nothing negotiated yet
        offer = parse_sdp(await a.create_offer())
        audio = offer.media[0]
        audio.formats = ["101"]
        audio.attributes = [(k, v) for k, v in audio.attributes
                            if k not in ("rtpmap", "fmtp", "rtcp-fb") or v.startswith("101 ")]
        with pytest.raises(MediaNegotiationError, match="no audio codec"):
            await b.accept_offer(offer.to_text())
    finally:
        await a.close()
        await b.close()
