"""Local ringback on the audio backend: the ring tone's cadences, stopped by an answer."""

from __future__ import annotations

import av

from agentconsole.config import MediaConfig
from agentconsole.media.audio import NullBackend, ToneBackend
from agentconsole.media.plain import PlainMediaSession
from agentconsole.media.ringback import Ringback
from agentconsole.media.ringer import RING_TONES
from agentconsole.media.tone import frame_to_mono, goertzel_power, rms
from tests.waiting import wait_until


class Collecting(NullBackend):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[av.AudioFrame] = []

    def _play(self, frame: av.AudioFrame) -> None:
        self.frames.append(frame)


def samples(frames: list[av.AudioFrame]) -> list[int]:
    out: list[int] = []
    for frame in frames:
        out.extend(frame_to_mono(frame))
    return out


async def test_ringback_plays_the_us_cadence_on_the_backend_until_stopped() -> None:
    backend = Collecting()
    ringback = Ringback(backend)
    ringback.start(RING_TONES["us"])
    assert ringback.playing and ringback.tone is RING_TONES["us"]
    await wait_until(lambda: len(backend.frames) >= 25, 3, "half a second of ringback")
    pcm = samples(backend.frames[:25])
    assert rms(pcm) > 1000
    for hz in (440, 480):  # the two tones of the US ringback, nothing else
        assert goertzel_power(pcm, 48000, hz) > 100 * goertzel_power(pcm, 48000, 1000)
    ringback.stop()
    count = len(backend.frames)
    assert not ringback.playing
    ringback.start(None)  # "off": stays quiet
    assert not ringback.playing and len(backend.frames) == count


async def test_the_answer_stops_the_ringback() -> None:
    cfg = MediaConfig(host_addresses=("127.0.0.1",), codecs=("PCMU",))
    backend = Collecting()
    caller = PlainMediaSession(cfg, backend)
    callee = PlainMediaSession(cfg, ToneBackend(880))
    try:
        offer = await caller.create_offer()
        caller.start_ringback(RING_TONES["uk"])  # a 180 without SDP
        await wait_until(lambda: len(backend.frames) >= 5, 3, "ringback frames")
        assert caller.ringback.playing
        await caller.accept_answer(await callee.accept_offer(offer))  # the 200
        assert not caller.ringback.playing
        caller.start_ringback(RING_TONES["uk"])  # a late 180 after the answer: ignored
        assert not caller.ringback.playing
    finally:
        await caller.close()
        await callee.close()
