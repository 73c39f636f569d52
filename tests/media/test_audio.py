"""Audio backends with PortAudio hidden or present and no sound card; WAV I/O; tones."""

from __future__ import annotations

import ctypes.util
import sys
import types
import wave
from pathlib import Path

import pytest

from agentconsole.config import AudioConfig
from agentconsole.media import audio_sd
from agentconsole.media.audio import FileBackend, NullBackend, ToneBackend, open_backend
from agentconsole.media.audio_file import WavWriter, read_wav_pcm
from agentconsole.media.tone import (
    PcmLoop,
    ToneGenerator,
    dominant_frequency,
    goertzel_power,
    rms,
    sine,
)
from agentconsole.media.tracks import make_frame

from ..interop.rig import missing_system_package

# ----- PortAudio hidden or present, never "whatever this machine has" ---------------------
# libportaudio2 is a system package (.ci/system-packages.txt) and there is no sound card in
# CI; a developer may have neither or both. Every verdict below is fixed by the fixtures.


@pytest.fixture
def portaudio_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine without libportaudio2: the next ``import sounddevice`` runs afresh and
    its library lookup finds nothing, so it raises OSError as on such a machine."""
    real_find = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: None if "portaudio" in name else real_find(name))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)


class _NoCardSounddevice:
    """``sounddevice`` over a PortAudio that loaded and found no device."""

    default = types.SimpleNamespace(device=(-1, -1))

    @staticmethod
    def query_devices() -> list[object]:
        return []

    @staticmethod
    def query_hostapis() -> list[object]:
        return [{"name": "ALSA"}]


@pytest.fixture(params=["stand-in", "libportaudio2"])
def portaudio_present(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """PortAudio loads and the machine has no sound card: a stand-in module everywhere, and
    the real library (a system package) with its device list emptied."""
    if request.param == "stand-in":
        monkeypatch.setattr(audio_sd, "_sounddevice", lambda: _NoCardSounddevice)
        return "stand-in"
    try:
        assert audio_sd._sounddevice().__name__ == "sounddevice"  # the real module loads
    except OSError:
        missing_system_package("libportaudio2")
    monkeypatch.setattr(audio_sd, "list_devices", lambda: [])  # a sound card would be hidden
    return "libportaudio2"


def test_auto_without_sound_card_is_null_with_notice(portaudio_present: str) -> None:
    backend = open_backend(AudioConfig(backend="auto"))
    assert isinstance(backend, NullBackend)
    assert backend.notice == audio_sd.NO_CARD and "no sound card" in backend.notice


def explicit_sounddevice_notice(caplog: pytest.LogCaptureFixture) -> str:
    """``backend: sounddevice`` falls back to null, with its notice logged as a warning."""
    backend = open_backend(AudioConfig(backend="sounddevice"))
    assert isinstance(backend, NullBackend) and backend.notice
    assert backend.notice in [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    return backend.notice


def test_explicit_sounddevice_without_card_falls_back(
    portaudio_present: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert explicit_sounddevice_notice(caplog) == audio_sd.NO_CARD


def test_missing_portaudio_is_null_with_notice(portaudio_hidden: None) -> None:
    with pytest.raises(OSError, match="PortAudio library not found"):
        audio_sd._sounddevice()
    backend = open_backend(AudioConfig(backend="auto"))
    assert isinstance(backend, NullBackend) and backend.notice == audio_sd.NO_PORTAUDIO
    assert "libportaudio2" in backend.notice
    assert audio_sd.list_devices() == []


def test_explicit_sounddevice_without_portaudio_falls_back(
    portaudio_hidden: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert explicit_sounddevice_notice(caplog) == audio_sd.NO_PORTAUDIO


def test_auto_on_this_machine_never_raises() -> None:
    backend = open_backend(AudioConfig(backend="auto"))
    if isinstance(backend, NullBackend):
        assert backend.notice and "no audio device" in backend.notice


def test_resolve_device_by_name_index_default() -> None:
    devs = [
        audio_sd.DeviceInfo(0, "HDA Intel: ALC", "ALSA", 2, 2, 48000.0, True, True),
        audio_sd.DeviceInfo(1, "Jabra Evolve 40", "ALSA", 1, 2, 16000.0),
    ]
    assert audio_sd.resolve_device("default", devs, output=True).index == 0
    assert audio_sd.resolve_device("jabra", devs, output=False).index == 1
    assert audio_sd.resolve_device(1, devs, output=True).name == "Jabra Evolve 40"
    with pytest.raises(LookupError):
        audio_sd.resolve_device("Plantronics", devs, output=False)


def test_other_backends_from_config(tmp_path: Path) -> None:
    assert isinstance(open_backend(AudioConfig(backend="null")), NullBackend)
    tone = open_backend(AudioConfig(backend="tone", tone_hz=700))
    assert isinstance(tone, ToneBackend) and tone.hz == 700


async def test_tone_track_frames() -> None:
    track = ToneBackend(1000).source_track()
    frames = [await track.recv() for _ in range(5)]
    assert all(f.samples == 960 and f.sample_rate == 48000 for f in frames)
    assert [f.pts for f in frames] == [0, 960, 1920, 2880, 3840]
    from agentconsole.media.tone import frame_to_mono

    samples = [s for f in frames for s in frame_to_mono(f)]
    assert abs(dominant_frequency(samples, 48000) - 1000) <= 2
    track.stop()


async def test_file_backend_writes_readable_wav(tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(sine(500, 8000, 8000).tobytes())
    out = tmp_path / "out.wav"
    backend = FileBackend(str(src), str(out))
    track = backend.source_track()
    frames = [await track.recv() for _ in range(3)]
    for frame in frames:
        backend.play(frame)
    backend.play(make_frame(sine(300, 160, 8000).tobytes(), 0, 8000))  # other rate
    await backend.close()
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 48000, 2)
        assert w.getnframes() >= 3 * 960 + 800  # 8 kHz frame upsampled, minus filter delay
        data = w.readframes(3 * 960)
    from array import array

    samples = array("h")
    samples.frombytes(data)
    assert abs(dominant_frequency(samples, 48000) - 500) <= 5
    assert out.stat().st_mode & 0o777 == 0o600


def test_wav_header_valid_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    writer = WavWriter(str(path), patch_interval=0)
    writer.write(bytes(9600))
    with wave.open(str(path), "rb") as w:  # not closed yet
        assert w.getnframes() == 4800
    writer.close()
    assert len(read_wav_pcm(str(path))) == 9600


def test_pcm_loop_wraps_skips_and_loops_silence_for_an_empty_clip() -> None:
    clip = bytes([1, 0, 2, 0, 3, 0])  # samples 1, 2, 3
    loop = PcmLoop(clip)
    assert loop.next_chunk(4) == clip + bytes([1, 0])
    loop.skip(4)  # passes over 2, 3, 1, 2
    assert loop.next_chunk(2) == bytes([3, 0, 1, 0])
    assert PcmLoop(b"").next_chunk(3) == bytes(6)


def test_tone_helpers() -> None:
    gen = ToneGenerator(440)
    from array import array

    samples = array("h")
    for _ in range(60):  # crosses the one-second table boundary
        samples.frombytes(gen.next_chunk(960))
    assert abs(dominant_frequency(samples, 48000) - 440) <= 2
    assert goertzel_power(samples[:4800], 48000, 440) > 100 * goertzel_power(
        samples[:4800], 48000, 1000)
    assert dominant_frequency([0] * 4800, 48000) == 0.0
    assert rms([0] * 10) == 0.0 and rms(sine(100, 4800, amplitude=1.0)) > 20000
    assert abs(dominant_frequency(sine(3000, 4000, 8000), 8000) - 3000) <= 2
