"""Two PlainMediaSessions in one process over loopback UDP: the RTP engine end to end
(tones both ways for every codec, SRTP, hold, mute, DTMF, media moving in a
re-INVITE, symmetric RTP, timeouts, recording taps, no thread per call)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import av
import pytest

from agentconsole.config import MediaConfig
from agentconsole.media.audio import AudioBackend, ToneBackend
from agentconsole.media.interface import MediaEngine
from agentconsole.media.peer import MediaSession
from agentconsole.media.plain import PlainMediaSession
from agentconsole.media.rtp.packet import parse_rtp
from agentconsole.media.sdp import MediaNegotiationError, parse_sdp
from agentconsole.media.tone import dominant_frequency, frame_to_mono, rms
from tests.waiting import audio_clock, frames_flow, wait_until


def config(*codecs: str, **extra: object) -> MediaConfig:
    settings: dict[str, object] = {"host_addresses": ("127.0.0.1",), "ice_servers": ()}
    settings.update(extra)
    return MediaConfig(codecs=codecs or ("PCMU",), **settings)  # type: ignore[arg-type]


class Heard:
    """The last frames a session played, for tone checks."""

    def __init__(self, media: PlainMediaSession) -> None:
        self.frames: list[av.AudioFrame] = []
        media.add_remote_tap(self)

    def __call__(self, frame: av.AudioFrame) -> None:
        self.frames.append(frame)
        del self.frames[:-60]

    def tone(self, frames: int = 25) -> tuple[float, float]:
        samples: list[int] = []
        for frame in self.frames[-frames:]:
            samples.extend(frame_to_mono(frame))
        rate = self.frames[-1].sample_rate
        return dominant_frequency(samples, rate), rms(samples)


class Call:
    def __init__(self, a: PlainMediaSession, b: PlainMediaSession) -> None:
        self.a, self.b = a, b
        self.heard_a, self.heard_b = Heard(a), Heard(b)


sessions: list[PlainMediaSession] = []


def session(cfg: MediaConfig, hz: int, *, secure: bool = False,
            backend: AudioBackend | None = None) -> PlainMediaSession:
    media = PlainMediaSession(cfg, backend or ToneBackend(hz), secure=secure)
    sessions.append(media)
    return media


@pytest.fixture(autouse=True)
async def close_all() -> AsyncIterator[None]:
    yield
    for media in sessions:
        await media.close()
    sessions.clear()


async def connect(a: PlainMediaSession, b: PlainMediaSession) -> Call:
    answer = await b.accept_offer(await a.create_offer())
    await a.accept_answer(answer)
    call = Call(a, b)
    await frames_flow(a, 30)
    await frames_flow(b, 30)
    return call


@pytest.mark.parametrize(("codec", "rate", "secure"), [
    ("PCMU", 8000, False), ("PCMA", 8000, True), ("G722", 16000, False), ("opus", 48000, True),
])
async def test_tones_cross_both_ways(codec: str, rate: int, secure: bool) -> None:
    cfg = config(codec)
    call = await connect(session(cfg, 440, secure=secure), session(cfg, 880))
    for heard, hz in ((call.heard_a, 880), (call.heard_b, 440)):
        peak, level = heard.tone()
        assert abs(peak - hz) <= 5 and level > 1000, (codec, peak, level)
        assert heard.frames[-1].sample_rate == rate
    assert call.a.codec == call.b.codec == codec
    assert call.a.encrypted == call.b.encrypted == secure
    assert isinstance(call.a, MediaEngine)


async def test_report_is_full_after_rtcp_both_ways() -> None:
    call = await connect(session(config(), 440), session(config(), 880))
    await wait_until(lambda: call.a.stream is not None and call.a.stream.sender.stats.rtt
                     is not None, 5, "an RTCP round trip")
    report = await call.a.report()
    assert report.audio_codec == "PCMU" and report.audio_rx > 30 and report.audio_tx > 30
    assert report.audio_rx_lost == 0 and report.audio_tx_lost == 0
    assert 0 <= report.rtt_ms < 50 and report.mos > 4.0 and report.mos_tx > 4.0
    assert report.ice_result == "local" and report.network_type == "loopback"


async def test_srtp_on_the_wire_is_not_plain_rtp() -> None:
    a, b = session(config(), 440, secure=True), session(config(), 880)
    offer = await a.create_offer()
    assert "RTP/SAVP" in offer and offer.count("a=crypto:") == 2
    wire: list[bytes] = []
    answer = await b.accept_offer(offer)
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80" in answer
    await a.accept_answer(answer)
    assert a.stream is not None and b.stream is not None
    send = a.stream.endpoint.send_rtp

    def spy(data: bytes, target: tuple[str, int]) -> None:
        wire.append(data)
        send(data, target)

    a.stream.endpoint.send_rtp = spy  # type: ignore[method-assign]
    await frames_flow(b, 20)
    assert len(wire) >= 10
    assert b.stream.srtp is not None
    for packet in wire[:10]:
        assert len(packet) == 12 + 160 + 10  # clear header, PCMU payload, 80-bit tag
        payload = parse_rtp(packet)[5][:160]
        # a G.711 sine repeats a handful of byte values; ciphertext uses most of them
        assert len(set(payload)) > 80, sorted(set(payload))
    heard = Heard(b)
    await frames_flow(b, 25)
    assert abs(heard.tone()[0] - 440) <= 5  # ... and B decrypts it back to the tone
    assert b.stream.auth_failures == 0


async def test_hold_and_resume_by_direction() -> None:
    call = await connect(session(config(), 440), session(config(), 880))
    a, b = call.a, call.b
    await a.accept_answer(await b.accept_reoffer(await a.create_reoffer("sendonly")))
    assert b.remote_direction == "sendonly" and a.remote_direction == "recvonly"
    a.set_sending(False)
    await audio_clock(5)  # packets in flight land
    before_a, before_b = a.frames_received, b.frames_received
    await audio_clock(15)
    assert b.frames_received == before_b  # nobody sends to B ...
    assert a.frames_received == before_a  # ... and B, answering recvonly, sends nothing
    await a.accept_answer(await b.accept_reoffer(await a.create_reoffer("sendrecv")))
    a.set_sending(True)
    await frames_flow(a, 20)
    await frames_flow(b, 20)
    assert abs(call.heard_b.tone()[0] - 440) <= 5


async def test_mute_sends_silence_without_signalling() -> None:
    call = await connect(session(config(), 440), session(config(), 880))
    call.a.set_muted(True)
    assert call.a.muted
    await frames_flow(call.b, 30)
    assert call.heard_b.tone(20)[1] < 50
    call.a.set_muted(False)
    await frames_flow(call.b, 30)
    assert call.heard_b.tone(20)[1] > 1000


@pytest.mark.parametrize("codec", ["PCMU", "opus"])
async def test_dtmf_both_ways(codec: str) -> None:
    call = await connect(session(config(codec), 440), session(config(codec), 880))
    got_b: list[tuple[str, int]] = []
    got_a: list[tuple[str, int]] = []
    call.b.on_dtmf = lambda digit, ms: got_b.append((digit, ms))
    call.a.on_dtmf = lambda digit, ms: got_a.append((digit, ms))
    assert call.a.dtmf_payload_type == 101
    await call.a.send_dtmf("12#", duration_ms=100, gap_ms=60)
    await wait_until(lambda: len(got_b) == 3, 3, "three digits at B")
    assert [d for d, _ in got_b] == ["1", "2", "#"] and all(ms == 100 for _, ms in got_b)
    await call.b.send_dtmf("9")
    await wait_until(lambda: got_a == [("9", 100)], 3, "a digit at A")
    await frames_flow(call.b, 10)  # the audio comes back after the events
    assert call.a.stream is not None and call.a.stream.receiver.jitter.lost == 0


async def test_reinvite_moves_media_to_another_server_profile_and_codec() -> None:
    """The PBX moves the call to another media server: new address and port, SDES
    keys where there were none, Opus instead of PCMU; the agent's session follows."""
    call = await connect(session(config("PCMU", "opus"), 440), session(config("PCMU"), 880))
    assert call.a.codec == "PCMU" and not call.a.encrypted
    server = session(config("opus"), 660, secure=True)
    heard_server = Heard(server)
    answer = await call.a.accept_reoffer(await server.create_offer())
    assert "RTP/SAVP" in answer and "a=crypto:" in answer
    await server.accept_answer(answer)
    await call.b.close()  # the old media server goes away
    await frames_flow(server, 30)
    await frames_flow(call.a, 30)
    assert call.a.codec == "opus" and call.a.encrypted
    assert abs(call.heard_a.tone()[0] - 660) <= 5
    assert abs(heard_server.tone()[0] - 440) <= 5


async def test_a_move_to_webrtc_media_is_refused_on_a_plain_call() -> None:
    call = await connect(session(config(), 440), session(config(), 880))
    offer = (await call.a.create_offer()).replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")
    with pytest.raises(MediaNegotiationError, match="WebRTC"):
        await call.b.accept_reoffer(offer)


async def test_symmetric_rtp_latches_onto_where_packets_come_from() -> None:
    """B's SDP names a port nobody listens on (a NAT rewrote nothing): A sends there
    until B's packets arrive, then sends to their source, so B hears A."""
    a, b = session(config(), 440), session(config(), 880)
    answer = await b.accept_offer(await a.create_offer())
    media = parse_sdp(answer).media[0]
    lying = answer.replace(f"m=audio {media.port} ", f"m=audio {media.port + 100} ")
    await a.accept_answer(lying)
    assert a.stream is not None and b.stream is not None
    assert a.stream.rtp_latch.expected == ("127.0.0.1", media.port + 100)
    await frames_flow(b, 20)
    assert a.stream.rtp_latch.target == ("127.0.0.1", media.port)
    heard_b = Heard(b)
    await frames_flow(b, 25)
    assert abs(heard_b.tone()[0] - 440) <= 5


async def test_rtp_timeout_warns_and_clears() -> None:
    states: list[str] = []
    a = session(config(rtp_timeout_s=1.0), 440)
    b = session(config(), 880)
    a.on_connection_state = states.append
    call = await connect(a, b)
    assert states[-1] == "connected" and a.connected
    assert call.b.stream is not None
    call.b.set_sending(False)  # B goes quiet without telling anybody
    call.b.stream.rtcp_timer.next_at = float("inf")
    await wait_until(lambda: "timeout" in states, 5, "the RTP timeout")
    call.b.set_sending(True)
    await wait_until(lambda: states[-1] == "connected", 5, "the media to resume")


async def test_an_early_answer_repeated_in_the_200_is_applied_once() -> None:
    a, b = session(config(), 440), session(config(), 880)
    answer = await b.accept_offer(await a.create_offer())
    await a.accept_answer(answer)  # the 183
    stream = a.stream
    await a.accept_answer(answer)  # the 200
    assert a.stream is stream and a.codec == "PCMU"
    await frames_flow(a, 10)


async def test_no_thread_per_call() -> None:
    def os_threads() -> int:
        try:
            return len(os.listdir("/proc/self/task"))
        except OSError:
            return threading.active_count()

    await connect(session(config("opus"), 440), session(config("opus"), 880))
    before = os_threads()
    for _ in range(3):
        await connect(session(config("opus", "G722"), 440), session(config("G722"), 880))
    assert os_threads() == before


async def test_webrtc_and_plain_sessions_share_the_interface() -> None:
    webrtc = MediaSession(config(), ToneBackend(440))
    try:
        assert isinstance(webrtc, MediaEngine)
    finally:
        await webrtc.close()


class FakeStun(asyncio.DatagramProtocol):
    """A STUN server that says every client is 203.0.113.7 behind a NAT, one port up."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.asked: list[tuple[str, int]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        from aioice import stun

        request = stun.parse_message(data)
        self.asked.append(addr)
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE,
                                transaction_id=request.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = ("203.0.113.7", addr[1] + 1)
        self.transport.sendto(bytes(response), addr)  # type: ignore[attr-defined]


async def test_stun_puts_the_nat_mapping_in_the_sdp() -> None:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(FakeStun,
                                                            local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        cfg = config(ice_servers=(f"stun:127.0.0.1:{port}", "turn:turn.example.com"))
        media = session(cfg, 440)
        offer = parse_sdp(await media.create_offer())
        assert media.stream is None and len(server.asked) == 2  # the RTP and RTCP sockets
        rtp_source, rtcp_source = server.asked
        audio = offer.media[0]
        assert offer.connection == "IN IP4 203.0.113.7"
        assert audio.port == rtp_source[1] + 1
        assert audio.attribute("rtcp") == f"{rtcp_source[1] + 1} IN IP4 203.0.113.7"
    finally:
        transport.close()


async def test_no_stun_answer_leaves_the_local_address() -> None:
    cfg = config(ice_servers=("stun:127.0.0.1:9",))  # nobody there
    media = session(cfg, 440)
    offer = parse_sdp(await media.create_offer())
    assert offer.connection == "IN IP4 127.0.0.1"
