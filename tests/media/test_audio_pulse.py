"""The PulseAudio backend against fake streams: what it writes and reads, when it opens
and closes streams, and how it reports and survives a server that goes away (the SSH
tunnel dropping). tests/e2e/test_audio_over_ssh.py runs it against a real daemon."""

from __future__ import annotations

import threading
from array import array
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agentconsole.media import audio_pulse
from agentconsole.media.audio import AudioDeviceError, open_backend
from agentconsole.media.audio_pulse import PulseBackend
from agentconsole.media.pulse_simple import PulseError
from agentconsole.media.ringer import RING_TONES
from agentconsole.media.tone import dominant_frequency, sine
from agentconsole.media.tracks import make_frame
from tests.waiting import wait_until

NOWHERE = "unix:/nonexistent/pulse-test-socket"
RATE = 16000
FRAME = RATE // 50 * 2  # 20 ms of s16 mono at 16 kHz


class FakeStream:
    """A pa_simple stream: writes are kept; reads return a tone, paced by a semaphore."""

    def __init__(self, owner: Streams, direction: str, device: str | None) -> None:
        self.owner = owner
        self.direction = direction
        self.device = device
        self.closed = False
        self.written = bytearray()
        self._pos = 0

    def write(self, pcm: bytes) -> None:
        self.owner.gate.acquire()  # the server's clock: one frame per release
        if self.owner.fail_next:
            self.owner.fail_next = False
            raise PulseError("PulseAudio playback failed: Connection terminated")
        self.written += pcm

    def read(self, size: int) -> bytes:
        self.owner.gate.acquire()
        tone = sine(700, size // 2, RATE, 0.5, start=self._pos).tobytes()
        self._pos += size // 2
        return tone

    def close(self) -> None:
        self.closed = True


class Streams:
    """The stream factory handed to the backend: refuses while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.fail_next = False
        self.opened: list[FakeStream] = []
        self.gate = threading.Semaphore(0)
        self.lock = threading.Lock()

    def __call__(self, direction: str, **kwargs: Any) -> FakeStream:
        if self.down:
            raise PulseError("cannot open a PulseAudio playback stream: Connection refused")
        stream = FakeStream(self, direction, kwargs.get("device"))
        with self.lock:
            self.opened.append(stream)
        return stream

    def live(self, direction: str) -> list[FakeStream]:
        return [s for s in self.opened if s.direction == direction and not s.closed]

    def tick(self, frames: int = 1) -> None:
        for _ in range(frames):
            self.gate.release()


@pytest.fixture
async def pulse() -> AsyncIterator[tuple[PulseBackend, Streams]]:
    streams = Streams()
    backend = PulseBackend(NOWHERE, rate=RATE, latency_ms=40, via_ssh=True,
                           stream_factory=streams)
    try:
        yield backend, streams
    finally:
        streams.tick(1000)  # unblock a thread waiting in a fake write/read
        await backend.close()


def tone_frame(hz: int, n: int = 0) -> Any:
    return make_frame(sine(hz, 960, 48000, 0.5, start=960 * n).tobytes(), 960 * n)


async def until(predicate: Callable[[], object], what: str) -> None:
    await wait_until(predicate, 5.0, what)


async def test_played_frames_reach_the_server_at_its_rate(
        pulse: tuple[PulseBackend, Streams]) -> None:
    backend, streams = pulse
    backend.play(tone_frame(440, 0))
    await until(lambda: streams.live("playback"), "a playback stream")
    stream = streams.live("playback")[0]
    for n in range(1, 12):  # one frame in, one frame out: a call in real time
        backend.play(tone_frame(440, n))
        streams.tick()
        await until(lambda n=n: len(stream.written) >= n * FRAME, f"frame {n} written")
    assert len(stream.written) % FRAME == 0  # 20 ms writes
    samples = array("h", bytes(stream.written))
    hz = dominant_frequency(samples, RATE, window=6 * FRAME // 2)
    assert abs(hz - 440) <= 10, hz
    assert backend.reachable and backend.notice is None


async def test_a_ring_plays_without_a_call(pulse: tuple[PulseBackend, Streams]) -> None:
    backend, streams = pulse
    backend.start_ring(RING_TONES["eu"])
    await until(lambda: streams.live("playback"), "a playback stream for the ring")
    streams.tick(5)
    stream = streams.live("playback")[0]
    await until(lambda: len(stream.written) >= 4 * FRAME, "ring written")
    assert any(array("h", bytes(stream.written)))
    backend.stop_ring()


async def test_capture_feeds_each_call_track(pulse: tuple[PulseBackend, Streams]) -> None:
    backend, streams = pulse
    track = backend.source_track()
    await until(lambda: streams.live("record"), "a record stream once a call needs one")
    heard = array("h")
    for _ in range(12):  # the server delivers a frame, the call takes a frame
        streams.tick()
        frame = await track.recv()
        heard.frombytes(bytes(frame.planes[0])[: frame.samples * 2])
    assert abs(dominant_frequency(heard[-2400:], 48000) - 700) <= 10
    track.stop()
    streams.tick(2)  # the read in progress returns, as a real one does within a frame
    await until(lambda: not streams.live("record"), "the record stream closed with the call")


async def test_an_unreachable_server_is_reported_then_recovered(
        pulse: tuple[PulseBackend, Streams]) -> None:
    backend, streams = pulse
    streams.down = True  # the tunnel is not up
    backend.play(tone_frame(440))
    await until(lambda: backend.reachable is False, "the failure noticed")
    notice = backend.notice or ""
    assert notice.startswith("no audio device") and NOWHERE in notice
    assert "ssh -R 4713:localhost:4713" in notice
    streams.down = False  # the agent reconnected with the tunnel
    for n in range(1, 4):
        backend.play(tone_frame(440, n))
    await until(lambda: streams.live("playback"), "the stream reopened")
    assert backend.reachable and backend.notice is None


async def test_a_broken_stream_is_reopened(pulse: tuple[PulseBackend, Streams]) -> None:
    backend, streams = pulse
    backend.play(tone_frame(440))
    await until(lambda: streams.live("playback"), "a playback stream")
    streams.fail_next = True
    streams.tick(3)
    await until(lambda: len([s for s in streams.opened if s.direction == "playback"]) >= 2,
                "a second playback stream after the first broke")
    assert streams.opened[0].closed


async def test_an_idle_backend_closes_its_playback_stream(
        pulse: tuple[PulseBackend, Streams], monkeypatch: pytest.MonkeyPatch) -> None:
    backend, streams = pulse
    monkeypatch.setattr(audio_pulse, "IDLE_CLOSE_S", 0.05)
    backend.play(tone_frame(440))
    await until(lambda: streams.live("playback"), "a playback stream")

    def closed() -> bool:
        streams.tick()  # the server keeps taking (silent) frames until the idle limit
        return not streams.live("playback")

    await until(closed, "the stream closed when idle")


async def test_devices_need_the_server(pulse: tuple[PulseBackend, Streams]) -> None:
    backend, _streams = pulse
    assert backend.list_devices() == []
    with pytest.raises(AudioDeviceError, match="does not answer"):
        backend.set_devices(output="Headset")


async def test_auto_picks_pulse_when_a_server_is_named() -> None:
    from agentconsole.config import AudioConfig

    backend = open_backend(AudioConfig(backend="auto"), env={"PULSE_SERVER": NOWHERE,
                                                             "SSH_CONNECTION": "1 2 3 4"})
    try:
        assert backend.name == "pulse" and isinstance(backend, PulseBackend)
        assert backend.server == NOWHERE and backend.via_ssh
        assert backend.route == "pulse via SSH tunnel"
    finally:
        await backend.close()
