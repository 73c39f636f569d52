"""Two MediaSessions in one process over loopback: tones, hold, mute, stats, close."""

from __future__ import annotations

import asyncio
import os
import threading

import av
import pytest

from agentconsole.config import MediaConfig
from agentconsole.media.audio import ToneBackend
from agentconsole.media.peer import MediaSession
from agentconsole.media.sdp import MediaNegotiationError, parse_sdp
from agentconsole.media.tone import dominant_frequency, frame_to_mono, rms
from tests.waiting import audio_clock, frames_flow, wait_until

LOOPBACK = MediaConfig(host_addresses=("127.0.0.1",), ice_servers=())


def os_threads() -> int:
    """Native threads too (FFmpeg pools are invisible to threading.active_count())."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class Received:
    def __init__(self) -> None:
        self.frames: list[av.AudioFrame] = []

    def __call__(self, frame: av.AudioFrame) -> None:
        self.frames.append(frame)
        del self.frames[:-100]
        self.count = getattr(self, "count", 0) + 1

    @property
    def total(self) -> int:
        return getattr(self, "count", 0)

    def tail_samples(self, frames: int = 25) -> tuple[list[int], int]:
        samples: list[int] = []
        for frame in self.frames[-frames:]:
            samples.extend(frame_to_mono(frame))
        return samples, self.frames[-1].sample_rate


async def settled(*received: Received, window: int = 5) -> None:
    """Wait until no frame arrived for ``window`` frames of audio time (packets in flight
    after a hold have landed or been dropped)."""
    while True:
        counts = [r.total for r in received]
        await audio_clock(window)
        if counts == [r.total for r in received]:
            return


def other_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def connect(a: MediaSession, b: MediaSession) -> None:
    answer = await b.accept_offer(await a.create_offer())
    await a.accept_answer(answer)


async def renegotiate(a: MediaSession, b: MediaSession, direction: str) -> None:
    answer = await b.accept_reoffer(await a.create_reoffer(direction))
    await a.accept_answer(answer)


async def test_call_tones_hold_mute_report_close() -> None:
    threads_before, py_before = os_threads(), threading.active_count()
    got_a, got_b = Received(), Received()
    states: list[str] = []
    a = MediaSession(LOOPBACK, ToneBackend(440), on_remote_frame=got_a,
                     on_connection_state=states.append)
    b = MediaSession(LOOPBACK, ToneBackend(880), on_remote_frame=got_b)
    offer = await a.create_offer()
    assert "127.0.0.1" in offer and "a=end-of-candidates" in offer
    await connect(a, b)
    await wait_until(lambda: got_a.total > 60 and got_b.total > 60)
    assert a.connected and b.connected and "connected" in states
    assert a.codec == b.codec == "opus"

    # Each side hears the other's tone.
    samples, rate = got_a.tail_samples()
    assert abs(dominant_frequency(samples, rate) - 880) <= 10
    samples, rate = got_b.tail_samples()
    assert abs(dominant_frequency(samples, rate) - 440) <= 10

    threads_during = os_threads()
    print(f"threads: os {threads_before}->{threads_during} for 2 sessions, "
          f"python {py_before}->{threading.active_count()}")
    assert threads_during - threads_before <= 2 * 4

    # Hold: A offers sendonly and stops its audio; B answers recvonly; media stops.
    a.set_sending(False)
    await renegotiate(a, b, "sendonly")
    assert b.remote_direction == "sendonly" and a.remote_direction == "recvonly"
    await asyncio.wait_for(settled(got_a, got_b), 5)  # packets in flight
    held_a, held_b = got_a.total, got_b.total
    await audio_clock(30)  # 0.6 s of audio nobody sends
    assert got_b.total == held_b
    assert got_a.total == held_a

    # Unhold: both directions flow again.
    await renegotiate(a, b, "sendrecv")
    a.set_sending(True)
    await wait_until(lambda: got_b.total > held_b + 10 and got_a.total > held_a + 10)

    # Mute: silence without renegotiation.
    a.set_muted(True)
    await frames_flow(b, 20)  # 0.4 s of A's audio since the mute
    samples, _ = got_b.tail_samples(10)
    assert rms(samples) < 50
    a.set_muted(False)
    await frames_flow(b, 20)
    samples, _ = got_b.tail_samples(10)
    assert rms(samples) > 1000

    report = await a.report()
    assert report.audio_rx > 0 and report.audio_tx > 0
    assert report.audio_codec == "opus" and report.ice_result == "local"
    assert 1.0 <= report.mos <= 4.5
    assert report.to_seed_dict()["lksAudioCodec"] == "opus"

    await a.close()
    await b.close()
    await a.close()  # idempotent
    await wait_until(lambda: not other_tasks(), 2, "the sessions' tasks to end")
    pending = other_tasks()
    assert pending == []


async def test_codec_preference_pcmu_and_tone_at_8k() -> None:
    got = Received()
    pcmu = MediaConfig(host_addresses=("127.0.0.1",), codecs=("PCMU", "opus"))
    a = MediaSession(LOOPBACK, ToneBackend(1000))
    b = MediaSession(pcmu, ToneBackend(600), on_remote_frame=got)
    try:
        # The answerer's configured order wins over the offer's (RFC 3264 §6.1).
        await connect(a, b)
        await wait_until(lambda: got.total > 40)
        assert a.codec == b.codec == "PCMU"
        samples, rate = got.tail_samples()
        assert rate == 8000
        assert abs(dominant_frequency(samples, rate) - 1000) <= 10
    finally:
        await a.close()
        await b.close()


async def test_offer_lists_configured_codecs_in_order() -> None:
    s = MediaSession(MediaConfig(host_addresses=("127.0.0.1",), codecs=("PCMA", "opus")),
                     ToneBackend(440))
    try:
        audio = parse_sdp(await s.create_offer()).media[0]
        assert audio.formats == ["8", "96", "101"]  # telephone-event last (RFC 4733)
    finally:
        await s.close()


async def test_video_declined_in_answer() -> None:
    a = MediaSession(LOOPBACK, ToneBackend(440))
    b = MediaSession(LOOPBACK, ToneBackend(880))
    try:
        offer = parse_sdp(await a.create_offer())
        audio = offer.media[0]
        video = parse_sdp(offer.to_text()).media[0]
        video.kind, video.formats = "video", ["97"]
        video.attributes = [(k, v) for k, v in video.attributes if k != "mid"]
        video.attributes += [("mid", "1"), ("rtpmap", "97 VP8/90000")]
        offer.media = [video, audio]  # video first: audio must keep its place
        offer.attributes = [
            ("group", "BUNDLE 1 0") if k == "group" else (k, v) for k, v in offer.attributes
        ]
        answer = parse_sdp(await b.accept_offer(offer.to_text()))
        assert [m.kind for m in answer.media] == ["video", "audio"]
        assert answer.media[0].port == 0 and answer.media[0].attribute("mid") == "1"
        assert answer.media[1].port != 0 and b.codec == "opus"
    finally:
        await a.close()
        await b.close()


async def test_plain_rtp_offer_rejected_488() -> None:
    b = MediaSession(LOOPBACK, ToneBackend(880))
    offer = (
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    try:
        with pytest.raises(MediaNegotiationError) as info:
            await b.accept_offer(offer)
        assert info.value.status == 488 and "webrtc" in info.value.warning.lower()
    finally:
        await b.close()


async def test_host_address_hook_is_per_session() -> None:
    import aioice.ice

    s = MediaSession(LOOPBACK, ToneBackend(440))
    try:
        await s.create_offer()
        # Outside a session's gathering aioice keeps its stock behaviour.
        assert "127.0.0.1" not in aioice.ice.get_host_addresses(True, False)
    finally:
        await s.close()


async def test_rollback_after_refused_reoffer_keeps_the_call() -> None:
    got = Received()
    a = MediaSession(LOOPBACK, ToneBackend(440))
    b = MediaSession(LOOPBACK, ToneBackend(880), on_remote_frame=got)
    try:
        await connect(a, b)
        await wait_until(lambda: got.total > 10)
        await a.create_reoffer("inactive")  # the PBX answers 491/500: never applied
        await a.rollback()
        before = got.total
        await wait_until(lambda: got.total > before + 10)  # media kept flowing
        await renegotiate(a, b, "sendonly")  # and a later re-offer still works
        assert b.remote_direction == "sendonly"
    finally:
        await a.close()
        await b.close()
