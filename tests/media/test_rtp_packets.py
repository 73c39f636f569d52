"""RTP/RTCP packets, the RTCP report arithmetic (RFC 3550 §6.4, A.1, A.3, A.8),
SDES-SRTP keys and contexts, and symmetric RTP latching."""

from __future__ import annotations

import base64
import contextlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.media.rtp.latch import SWITCH_AFTER_S, Latch
from agentconsole.media.rtp.packet import (
    PacketError,
    ReportBlock,
    SenderInfo,
    build_bye,
    build_rr,
    build_rtp,
    build_sdes,
    build_sr,
    is_rtcp,
    ntp_middle,
    ntp_time,
    parse_rtcp,
    parse_rtp,
)
from agentconsole.media.rtp.srtp import (
    SrtpContext,
    SrtpError,
    choose_crypto,
    new_crypto,
    parse_crypto,
)
from agentconsole.media.rtp.statistics import ReceiverStats, RtcpTimer, SenderStats
from agentconsole.media.stats import build_report

# ----- packets -----------------------------------------------------------------------------


def test_rtp_round_trip_and_header_extras() -> None:
    packet = build_rtp(96, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"abc", marker=True)
    assert parse_rtp(packet) == (96, True, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"abc")
    assert not is_rtcp(packet)
    # one CSRC, a one-word header extension and two bytes of padding (RFC 3550 §5.1, §5.3.1)
    fancy = (bytes([0x80 | 0x20 | 0x10 | 1, 0]) + packet[2:12] + b"CSRC"
             + b"\xbe\xde\x00\x01" + b"EXT!" + b"data" + b"\x00\x02")
    assert parse_rtp(fancy)[5] == b"data"


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x40" + bytes(11),
                                  bytes([0x8F]) + bytes(11), bytes([0x90]) + bytes(13)])
def test_malformed_rtp_raises_packet_error(data: bytes) -> None:
    with pytest.raises(PacketError):
        parse_rtp(data)


@given(st.binary(max_size=80))
def test_parsers_raise_only_packet_error(data: bytes) -> None:
    for parse in (parse_rtp, parse_rtcp):
        with contextlib.suppress(PacketError):
            parse(data)  # type: ignore[operator]


def test_compound_rtcp_round_trip() -> None:
    block = ReportBlock(0x1234, 25, -3, 70000, 42, 0xAABBCCDD, 65536)
    info = SenderInfo(ntp_time(1_700_000_000.5), 123456, 500, 80000)
    compound = build_sr(0x99, info, (block,)) + build_sdes(0x99, "me@host") + build_bye(0x99)
    assert is_rtcp(compound)
    got = parse_rtcp(compound)
    assert got.ssrc == 0x99 and got.sender == info and got.reports == (block,)
    assert got.cname == "me@host" and got.bye and got.kinds == (200, 202, 203)
    rr = parse_rtcp(build_rr(7, (block,)) + build_sdes(7, "x"))
    assert rr.sender is None and rr.reports == (block,)
    with pytest.raises(PacketError):
        parse_rtcp(compound[:-3])


def test_ntp_middle_bits() -> None:
    ntp = ntp_time(0.5)
    assert ntp >> 32 == 2208988800 and ntp & 0xFFFFFFFF == 1 << 31
    assert ntp_middle(ntp) == ((2208988800 & 0xFFFF) << 16) | 0x8000


# ----- report arithmetic -------------------------------------------------------------------


def test_loss_fraction_and_cumulative_loss_per_interval() -> None:
    rx = ReceiverStats(8000)
    for seq in [*range(65530, 65536), *range(0, 10)]:  # 16 sent across the wrap
        if seq not in (65533, 2, 3, 4):  # 4 lost
            rx.update(0xAB, seq)
    block = rx.report_block(now=1.0)
    assert block is not None
    assert block.highest_seq == 65536 + 9 and block.cumulative_lost == 4
    assert block.fraction_lost == 4 * 256 // 16
    for seq in range(10, 20):  # a clean interval
        rx.update(0xAB, seq)
    block = rx.report_block(now=2.0)
    assert block is not None and block.fraction_lost == 0 and block.cumulative_lost == 4
    assert rx.received == 22 and rx.lost == 4


def test_duplicates_and_a_confirmed_restart() -> None:
    rx = ReceiverStats(8000)
    assert rx.update(1, 100) and rx.update(1, 101)
    assert not rx.update(1, 101)  # duplicate
    assert not rx.update(1, 20000)  # a jump: wait for confirmation
    assert rx.update(1, 20001)  # confirmed: the sender restarted its numbering
    assert rx.received == 3 and rx.lost == 0
    assert rx.update(2, 5)  # a new SSRC: a new source, the call's totals carry on
    assert rx.ssrc == 2 and rx.received == 4


def test_interarrival_jitter_follows_a_8() -> None:
    rx = ReceiverStats(8000)
    rx.update_jitter(0, 0.0)
    rx.update_jitter(160, 0.030)  # 10 ms late: D = 80 units
    assert rx.jitter == pytest.approx(80 / 16)
    rx.update_jitter(320, 0.040)  # back on time: D = 80 again
    assert rx.jitter == pytest.approx(5 + (80 - 5) / 16)


def test_round_trip_time_from_lsr_and_dlsr() -> None:
    """We send an SR at wall time T; the peer reports 0.25 s after getting it, and the
    report reaches us at T + 0.31 s: RTT = 0.31 - 0.25 = 60 ms (RFC 3550 §6.4.1)."""
    tx = SenderStats(ssrc=5, first_seq=1000)
    for _ in range(200):
        tx.sent(160)
    sent_at = 1_700_000_000.0
    block = ReportBlock(5, 64, 10, 1000 + 199, 80, ntp_middle(ntp_time(sent_at)),
                        int(0.25 * 65536))
    tx.on_report(block, sent_at + 0.31)
    assert tx.rtt == pytest.approx(0.060, abs=1e-4)
    assert tx.remote_lost == 10 and tx.remote_received == 190 and tx.remote_jitter == 80


def test_dlsr_measures_our_holding_time_of_the_last_sr() -> None:
    rx = ReceiverStats(8000)
    rx.update(9, 1)
    info = SenderInfo(ntp_time(1_700_000_000.0), 0, 1, 160)
    rx.on_sender_report(info, 10.0)
    block = rx.report_block(now=10.5)
    assert block is not None and block.lsr == ntp_middle(info.ntp)
    assert block.dlsr == 32768  # 0.5 s in 1/65536 s


def test_stats_feed_the_call_report_both_directions() -> None:
    rx, tx = ReceiverStats(8000), SenderStats(5, 0)
    for seq in range(1, 101):
        if seq % 10 != 5:  # 10 of 100 lost
            rx.update(1, seq)
    rx.jitter = 160.0  # 20 ms
    for _ in range(100):
        tx.sent(160)
    tx.on_report(ReportBlock(5, 0, 5, 99, 80, 0, 0), 0.0)
    tx.rtt = 0.1
    from agentconsole.media.rtp.statistics import stats_entries

    report = build_report(stats_entries(rx, tx), now=1000.0, codec="PCMU", clock_rate=8000)
    assert report.audio_rx == 90 and report.audio_rx_lost == pytest.approx(0.1)
    assert report.audio_rx_max_jitter == 20.0 and report.audio_tx == 100
    assert report.audio_tx_lost == pytest.approx(0.05) and report.audio_tx_max_jitter == 10.0
    assert report.rtt_ms == 100.0 and 1.0 < report.mos < 4.0 and 1.0 < report.mos_tx < 4.5
    assert report.mos_tx > report.mos  # 5 % loss sounds better than 10 %


def test_rtcp_timer_spacing() -> None:
    timer = RtcpTimer(interval=5.0, first=1.0, rng=random.Random(1))
    timer.start(0.0)
    assert timer.next_at is not None and 0.5 <= timer.next_at <= 1.5
    assert not timer.due(0.4) and timer.due(1.5)
    assert 1.5 + 2.5 <= timer.next_at <= 1.5 + 7.5


# ----- SDES-SRTP ---------------------------------------------------------------------------


def test_crypto_lines() -> None:
    key = base64.b64encode(bytes(30)).decode()
    line = parse_crypto(f"7 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20 WSH=64")
    assert line is not None and line.usable and line.lifetime == "2^20"
    assert line.to_sdp() == f"7 AES_CM_128_HMAC_SHA1_80 inline:{key}"
    mki = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4")
    assert mki is not None and not mki.usable
    assert parse_crypto("x AES inline:abc") is None and parse_crypto("1 AES") is None
    assert parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:!!!") is None
    short = parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA")
    assert short is not None and not short.usable
    assert choose_crypto([mki, short, line]) is line  # type: ignore[list-item]


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"])
def test_srtp_protects_both_ways_and_rejects_tampering(suite: str) -> None:
    a_key, b_key = new_crypto(1, suite).key, new_crypto(1, suite).key
    alice, bob = SrtpContext(suite, a_key, b_key), SrtpContext(suite, b_key, a_key)
    packet = build_rtp(0, 1, 160, 42, b"\xff" * 160)
    wire = alice.protect(packet)
    assert wire != packet and wire[12:172] != packet[12:]  # the payload is encrypted
    assert len(wire) - len(packet) == (10 if suite.endswith("80") else 4)
    assert bob.unprotect(wire) == packet
    tampered = wire[:20] + bytes([wire[20] ^ 1]) + wire[21:]
    with pytest.raises(SrtpError):
        bob.unprotect(tampered)
    rtcp = build_rr(42) + build_sdes(42, "x")
    assert bob.unprotect_rtcp(alice.protect_rtcp(rtcp)) == rtcp


# ----- symmetric RTP -------------------------------------------------------------------------


def test_latch_follows_the_first_valid_source_then_resists_strangers() -> None:
    latch = Latch(("10.0.0.5", 4000))  # the private address the SDP named
    assert latch.target == ("10.0.0.5", 4000)
    assert latch.seen(("203.0.113.9", 61000), 1.0)  # the NAT's mapping
    assert latch.target == ("203.0.113.9", 61000)
    assert not latch.seen(("198.51.100.66", 5555), 1.2)  # a stranger while the peer talks
    assert latch.target == ("203.0.113.9", 61000)
    assert not latch.seen(("203.0.113.9", 61000), 1.3)
    # the peer's NAT re-bound: the old mapping silent, the new one takes over
    assert latch.seen(("203.0.113.9", 62000), 1.31 + SWITCH_AFTER_S)
    assert latch.target == ("203.0.113.9", 62000)
    latch.reset(("192.0.2.8", 7000))  # a re-INVITE moved the media
    assert latch.target == ("192.0.2.8", 7000) and not latch.latched


def test_latch_disabled_sends_to_the_sdp_address() -> None:
    latch = Latch(("10.0.0.5", 4000), enabled=False)
    assert not latch.seen(("203.0.113.9", 61000), 1.0)
    assert latch.target == ("10.0.0.5", 4000)
