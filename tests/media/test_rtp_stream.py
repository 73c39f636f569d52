"""Two RtpStreams wired through an in-memory network on a fake clock: no socket, no
sleep. Loss, reordering, concealment, RTCP (RTT, the far end's loss report) and SRTP
are driven tick by tick."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from agentconsole.media.audio_base import ChunkSource
from agentconsole.media.rtp.codecs import PCMU
from agentconsole.media.rtp.endpoint import RtpEndpoint
from agentconsole.media.rtp.negotiate import Negotiated, Srtp
from agentconsole.media.rtp.packet import is_rtcp, parse_rtp
from agentconsole.media.rtp.srtp import new_crypto
from agentconsole.media.rtp.stream import RtpStream
from agentconsole.media.tone import ToneGenerator

TICK = 0.02
A, B = ("10.0.0.1", 4000), ("10.0.0.2", 5000)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Wire:
    """Datagrams in flight; ``drop(n, packet)`` decides which RTP packets vanish."""

    def __init__(self, drop: Callable[[int, bytes], bool] = lambda n, p: False) -> None:
        self.drop = drop
        self.queue: list[tuple[RtpStream, bytes, tuple[str, int], bool]] = []
        self.sent = 0

    def endpoint(self, me: tuple[str, int]) -> RtpEndpoint:
        endpoint = RtpEndpoint(me[0], me[1], me[1] + 1)
        wire = self

        def send_rtp(data: bytes, target: tuple[str, int]) -> None:
            wire.sent += 1
            if not wire.drop(wire.sent, data):
                wire.queue.append((wire.peers[target], data, me, False))

        def send_rtcp(data: bytes, target: tuple[str, int], mux: bool) -> None:
            wire.queue.append((wire.peers[target], data, me, True))

        endpoint.send_rtp = send_rtp  # type: ignore[method-assign]
        endpoint.send_rtcp = send_rtcp  # type: ignore[method-assign]
        return endpoint

    def deliver(self, now: float) -> None:
        queue, self.queue = self.queue, []
        for stream, data, source, rtcp in queue:
            stream.datagram(data, source, now, rtcp=rtcp or is_rtcp(data))


def negotiated(remote: tuple[str, int], srtp: Srtp | None = None) -> Negotiated:
    return Negotiated(
        proto="RTP/SAVP" if srtp else "RTP/AVP", remote_rtp=remote,
        remote_rtcp=(remote[0], remote[1] + 1), rtcp_mux=False, send_codec=PCMU, send_pt=0,
        receive={0: PCMU}, event_send_pt=101, event_clock=8000,
        event_receive_pts=frozenset({101}), ptime_ms=20, local_direction="sendrecv",
        remote_direction="sendrecv", srtp=srtp)


def pair(wire: Wire, clock: Clock, wall: Clock, secure: bool = False
         ) -> tuple[RtpStream, RtpStream, list[bytes]]:
    played: list[bytes] = []
    keys = (new_crypto(1, "AES_CM_128_HMAC_SHA1_80").key,
            new_crypto(1, "AES_CM_128_HMAC_SHA1_80").key)
    a = RtpStream(wire.endpoint(A), ChunkSource(ToneGenerator(440, 8000).next_chunk, 8000),
                  lambda pcm, rate: None, clock=clock, wall=wall, rng=random.Random(1))
    b = RtpStream(wire.endpoint(B), ChunkSource(ToneGenerator(880, 8000).next_chunk, 8000),
                  lambda pcm, rate: played.append(pcm), clock=clock, wall=wall,
                  rng=random.Random(2))
    wire.peers = {A: a, B: b, (A[0], A[1] + 1): a, (B[0], B[1] + 1): b}  # type: ignore[attr-defined]
    srtp_a = Srtp("AES_CM_128_HMAC_SHA1_80", keys[0], keys[1]) if secure else None
    srtp_b = Srtp("AES_CM_128_HMAC_SHA1_80", keys[1], keys[0]) if secure else None
    a.apply(negotiated(B, srtp_a))
    b.apply(negotiated(A, srtp_b))
    a.sender.sending = b.sender.sending = True
    return a, b, played


def run(wire: Wire, clock: Clock, wall: Clock, streams: tuple[RtpStream, ...],
        ticks: int, latency: float = 0.002) -> None:
    for _ in range(ticks):
        clock.now += TICK
        wall.now += TICK
        for stream in streams:
            stream.tick(clock.now)
        clock.now += latency
        wall.now += latency
        wire.deliver(clock.now)
        clock.now -= latency
        wall.now -= latency


@pytest.mark.parametrize("secure", [False, True])
def test_loss_is_concealed_counted_and_reported_back(secure: bool) -> None:
    """Every 10th RTP packet from A to B is lost: B conceals them (it still plays one
    frame per tick), counts them, and its RTCP tells A (Tx loss, RTT)."""
    wire = Wire()
    clock, wall = Clock(), Clock()
    wall.now = 1_700_000_000.0
    a, b, played = pair(wire, clock, wall, secure)
    wire.drop = lambda n, p: parse_rtp(p)[4] == a.sender.ssrc and parse_rtp(p)[2] % 10 == 0
    run(wire, clock, wall, (a, b), 400)  # 8 s: RTCP both ways several times
    lost = b.receiver.jitter.lost
    counted = b.receiver.stats.lost  # RFC 3550 A.3: from the sequence numbers
    assert 36 <= counted <= 41  # ~400 sent, every 10th lost
    assert counted - 1 <= lost <= counted  # the newest gap is concealed when its turn comes
    assert len(played) >= 395  # a frame every tick: concealment filled the gaps
    assert 10 <= a.sender.stats.remote_lost <= counted  # as of B's last receiver report
    assert a.sender.stats.rtt == pytest.approx(0.004, abs=0.0011)  # two 2 ms hops
    stats = a.stats()
    assert stats["remote"]["packetsLost"] == a.sender.stats.remote_lost  # type: ignore[index]
    assert (a.srtp is not None) == secure and b.auth_failures == 0


def test_reordering_on_the_wire_costs_no_audio() -> None:
    wire = Wire()
    clock, wall = Clock(), Clock()
    a, b, played = pair(wire, clock, wall)
    b.receiver.jitter.min_depth = b.receiver.jitter.target = 2
    for _ in range(100):
        clock.now += TICK
        a.tick(clock.now)
        b.tick(clock.now)
        if len(wire.queue) >= 2 and random.Random(clock.now).random() < 0.3:
            wire.queue[0], wire.queue[1] = wire.queue[1], wire.queue[0]
        wire.deliver(clock.now + 0.001)
    assert b.receiver.jitter.lost == 0 and b.receiver.jitter.late == 0
    assert b.receiver.stats.lost == 0


def test_packets_from_an_unexpected_source_move_the_latch() -> None:
    wire = Wire()
    clock, wall = Clock(), Clock()
    a, b, _ = pair(wire, clock, wall)
    nat = ("203.0.113.5", 40000)
    wire.peers[nat] = b  # type: ignore[attr-defined]
    while not wire.queue:  # the resampler's first output
        clock.now += TICK
        a.tick(clock.now)
    queued = [(s, d, nat, r) for s, d, _src, r in wire.queue]  # A's packets seen via a NAT
    wire.queue = queued
    wire.deliver(clock.now)
    assert b.rtp_latch.target == nat and b.rtp_latch.expected == A


def test_srtp_packets_that_fail_authentication_are_dropped_and_never_latch() -> None:
    wire = Wire()
    clock, wall = Clock(), Clock()
    a, b, _ = pair(wire, clock, wall, secure=True)
    while not wire.queue:
        clock.now += TICK
        a.tick(clock.now)
    (_stream, data, _src, _rtcp), = wire.queue
    forged = data[:-1] + bytes([data[-1] ^ 0xFF])
    b.datagram(forged, ("198.51.100.1", 9), clock.now, rtcp=False)
    assert b.auth_failures == 1 and b.rtp_latch.target == A
    assert b.receiver.stats.received == 0
