"""The ring tone: cadences, the Ringer's start/stop policy, and ringing on a (fake)
sound card, mixed into the output device or on a separate ring device.

There is no sound card on CI: :class:`FakeSounddevice` stands in for the
``sounddevice`` module (device list, streams whose callbacks the test pumps).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from array import array
from dataclasses import dataclass, field
from typing import Any

import pytest

from agentconsole.media import audio_sd
from agentconsole.media.audio import NullBackend
from agentconsole.media.audio_sd import SounddeviceBackend
from agentconsole.media.ringer import RING_TONES, Ringer, RingSignal, RingTone, ring_tone
from agentconsole.media.tone import dominant_frequency, goertzel_power, rms

# ----- a stand-in for the sounddevice module ---------------------------------------------------

DEVICES = [
    {"index": 0, "name": "HDA Intel PCH: ALC", "hostapi": 0, "max_input_channels": 2,
     "max_output_channels": 2, "default_samplerate": 48000.0},
    {"index": 1, "name": "Jabra Evolve 40", "hostapi": 0, "max_input_channels": 1,
     "max_output_channels": 2, "default_samplerate": 16000.0},
    {"index": 2, "name": "USB Speaker", "hostapi": 0, "max_input_channels": 0,
     "max_output_channels": 2, "default_samplerate": 44100.0},
]


@dataclass
class FakeStream:
    kind: str
    device: int
    samplerate: int
    callback: Any
    started: bool = False
    closed: bool = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def pump(self, frames: int) -> bytes:
        """What PortAudio would play next (an output stream's callback)."""
        out = bytearray(frames * 2)
        self.callback(out, frames, None, None)
        return bytes(out)

    def feed(self, pcm: bytes) -> None:
        """Captured audio arrives (an input stream's callback)."""
        self.callback(pcm, len(pcm) // 2, None, None)


@dataclass
class FakeDefault:
    device: tuple[int, int] = (0, 0)


@dataclass
class FakeSounddevice:
    devices: list[dict[str, Any]] = field(default_factory=lambda: list(DEVICES))
    default: FakeDefault = field(default_factory=FakeDefault)
    streams: list[FakeStream] = field(default_factory=list)
    inits: int = 0
    fail_device: int | None = None  # opening a stream on it raises (a busy device)

    def query_devices(self) -> list[dict[str, Any]]:
        return list(self.devices)

    def query_hostapis(self) -> list[dict[str, Any]]:
        return [{"name": "ALSA"}]

    def _stream(self, kind: str, **kw: Any) -> FakeStream:
        if kw["device"] == self.fail_device:
            raise RuntimeError("Device unavailable [PaErrorCode -9985]")
        stream = FakeStream(kind, kw["device"], kw["samplerate"], kw["callback"])
        self.streams.append(stream)
        return stream

    def RawInputStream(self, **kw: Any) -> FakeStream:  # noqa: N802 - sounddevice's name
        return self._stream("in", **kw)

    def RawOutputStream(self, **kw: Any) -> FakeStream:  # noqa: N802
        return self._stream("out", **kw)

    def _terminate(self) -> None:
        pass

    def _initialize(self) -> None:
        self.inits += 1

    def live(self, kind: str | None = None) -> list[FakeStream]:
        return [s for s in self.streams if not s.closed and (kind is None or s.kind == kind)]


def install_fake_sounddevice(monkeypatch: pytest.MonkeyPatch,
                             devices: list[dict[str, Any]] | None = None) -> FakeSounddevice:
    fake = FakeSounddevice(devices=list(DEVICES if devices is None else devices))
    monkeypatch.setattr(audio_sd, "_sounddevice", lambda: fake)
    return fake


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSounddevice:
    return install_fake_sounddevice(monkeypatch)


def samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm)
    return out


# ----- the signal --------------------------------------------------------------------------------

def test_us_ring_is_440_plus_480_two_on_four_off() -> None:
    rate = 8000
    signal = RingSignal(RING_TONES["us"], rate)
    pcm = b"".join(signal.next_chunk(333) for _ in range(8 * rate // 333 + 1))
    s = samples(pcm)
    on, off, again = s[: 2 * rate], s[2 * rate : 6 * rate], s[6 * rate : 8 * rate]
    assert not any(off)
    assert rms(on) > 3000 and rms(again) > 3000
    quiet = goertzel_power(on[:4000], rate, 460)
    assert goertzel_power(on[:4000], rate, 440) > 100 * quiet
    assert goertzel_power(on[:4000], rate, 480) > 100 * quiet
    assert max(abs(x) for x in on) <= 0.5 * 32767 + 2  # two sines at 0.25 never clip


def test_chunk_size_does_not_change_the_signal() -> None:
    tone = RING_TONES["uk"]
    a, b = RingSignal(tone, 8000), RingSignal(tone, 8000)
    assert b"".join(a.next_chunk(160) for _ in range(150)) == \
        b"".join(b.next_chunk(n) for n in (1, 999, 7, 12993, 10000))


def test_eu_and_uk_cadences() -> None:
    rate = 8000
    eu = samples(RingSignal(RING_TONES["eu"], rate).next_chunk(5 * rate))
    assert abs(dominant_frequency(eu[:rate], rate) - 425) <= 2
    assert not any(eu[rate:])
    uk = samples(RingSignal(RING_TONES["uk"], rate).next_chunk(3 * rate))
    ms = rate // 1000
    assert rms(uk[: 400 * ms]) > 3000 and not any(uk[400 * ms : 600 * ms])
    assert rms(uk[600 * ms : 1000 * ms]) > 3000 and not any(uk[1000 * ms : 3000 * ms])


def test_ring_tone_names() -> None:
    assert ring_tone("us") is RING_TONES["us"]
    assert ring_tone("off") is None and ring_tone(None) is None
    custom = RingTone("x", (1000,), (0.5, 0.5))
    assert ring_tone(custom) is custom and custom.period_s == 1.0
    with pytest.raises(ValueError, match="unknown ring tone"):
        ring_tone("klaxon")


# ----- the Ringer ---------------------------------------------------------------------------------

async def test_null_backend_records_that_it_would_ring() -> None:
    backend = NullBackend()
    ringer = Ringer(backend, "eu")
    ringer.update(True)
    assert ringer.ringing and backend.ringing is RING_TONES["eu"]
    ringer.update(True)  # a second ringing call: still one ring
    assert backend.ring_starts == 1
    ringer.update(False)
    assert not ringer.ringing and backend.ringing is None
    ringer.update(True)
    assert backend.ring_starts == 2
    await ringer.close()
    assert backend.ringing is None


async def test_ring_tone_off_never_rings() -> None:
    backend = NullBackend()
    ringer = Ringer(backend, "off")
    ringer.update(True)
    assert not ringer.ringing and backend.ringing is None and backend.ring_starts == 0


class SlowRingBackend(NullBackend):
    """A backend whose ring device takes time to open: must not run on the loop."""

    ring_blocks = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []
        self.calls: list[str] = []

    def start_ring(self, tone: RingTone) -> None:
        self.threads.append(threading.get_ident())
        self.calls.append("start")
        super().start_ring(tone)

    def stop_ring(self) -> None:
        self.threads.append(threading.get_ident())
        self.calls.append("stop")
        super().stop_ring()


async def test_blocking_backend_rings_off_the_loop_and_settles_on_the_last_wish() -> None:
    backend = SlowRingBackend()
    ringer = Ringer(backend, "us")
    ringer.update(True)
    ringer.update(False)
    ringer.update(True)  # flapping while the device opens
    await ringer.wait_idle()
    assert backend.ringing is RING_TONES["us"]
    assert backend.threads and threading.get_ident() not in backend.threads
    ringer.update(False)
    await ringer.wait_idle()
    assert backend.ringing is None and backend.calls[-1] == "stop"


async def test_a_failing_ring_device_is_logged_not_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    class Broken(NullBackend):
        def start_ring(self, tone: RingTone) -> None:
            raise RuntimeError("device vanished")

    ringer = Ringer(Broken(), "us")
    with caplog.at_level(logging.WARNING):
        ringer.update(True)
    assert "device vanished" in caplog.text
    ringer.update(False)  # and it can still be told to stop
    assert not ringer.ringing


async def test_set_backend_moves_the_ringer() -> None:
    old, new = NullBackend(), NullBackend()
    ringer = Ringer(old, "us")
    ringer.update(True)
    ringer.set_backend(new)
    assert old.ringing is None and ringer.backend is new and not ringer.ringing
    ringer.update(True)
    assert new.ringing is RING_TONES["us"]


# ----- on a (fake) sound card ---------------------------------------------------------------------

async def test_ring_on_the_output_device_is_mixed_into_the_output(
        fake_sd: FakeSounddevice) -> None:
    backend = SounddeviceBackend("default", "default", "default")
    assert backend.has_ring_device
    assert backend.ring_device == backend.output_device  # ring: default = the output
    out = fake_sd.live("out")[0]
    assert not any(out.pump(960))
    ringer = Ringer(backend, "us")
    ringer.update(True)
    await ringer.wait_idle()
    assert len(fake_sd.live("out")) == 1  # no second stream on the same device
    ring = samples(out.pump(48000))
    assert rms(ring) > 3000
    head = ring[:9600]
    assert goertzel_power(head, 48000, 440) > 100 * goertzel_power(head, 48000, 460)
    with backend._lock:  # a call's audio is queued too: both are heard
        backend._out += array("h", [1000] * 960).tobytes()
    assert samples(out.pump(960))[0] == 1000 + samples(RingSignal(RING_TONES["us"], 48000)
                                                       .next_chunk(48960))[48000]
    ringer.update(False)
    await ringer.wait_idle()
    assert not any(out.pump(960))
    await backend.close()


async def test_ring_on_a_separate_device_gets_its_own_stream(fake_sd: FakeSounddevice) -> None:
    backend = SounddeviceBackend("default", "default", "USB")
    assert backend.ring_device is not None and backend.ring_device.index == 2
    ringer = Ringer(backend, "eu")
    ringer.update(True)
    await ringer.wait_idle()
    ring_stream = next(s for s in fake_sd.live("out") if s.device == 2)
    assert ring_stream.started and ring_stream.samplerate == 44100
    pcm = samples(ring_stream.pump(44100))
    assert abs(dominant_frequency(pcm, 44100) - 425) <= 2
    speaker = next(s for s in fake_sd.live("out") if s.device == 0)
    assert not any(speaker.pump(960))  # the headset stays quiet
    ringer.update(False)
    await ringer.wait_idle()
    assert ring_stream.closed
    await backend.close()
    assert fake_sd.live() == []


async def test_switching_devices_while_ringing_moves_the_ring(fake_sd: FakeSounddevice) -> None:
    backend = SounddeviceBackend("default", "default", "USB")
    ringer = Ringer(backend, "us")
    ringer.update(True)
    await ringer.wait_idle()
    await asyncio.to_thread(backend.set_devices, ring="default")
    assert [s.device for s in fake_sd.live("out")] == [0]  # ring stream on 2 is gone
    assert rms(samples(fake_sd.live("out")[0].pump(4800))) > 3000  # now mixed in
    assert backend.ringing is RING_TONES["us"]
    await ringer.close()
    await backend.close()
