"""Audio backends: where the agent's voice comes from and where the caller's goes.

One interface for a sound card (:mod:`.audio_sd`), no device at all (``null``: silence
out, discard in), a test tone and WAV files. :func:`open_backend` never fails for want
of a sound card: it falls back to ``null`` and says so in ``notice`` for the screen
(DESIGN.md §4). aiortc/av are imported only when a track or a frame is handled.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config import AudioConfig
from . import audio_sd
from .audio_base import (
    SAMPLE_RATE,
    AudioBackend,
    AudioDeviceError,
    ChunkSource,
    DeviceSelection,
    LevelListener,
    PcmSource,
    rms_dbfs,
)
from .audio_file import FileBackend
from .audio_sd import DeviceInfo, SounddeviceBackend, list_devices

if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger(__name__)

NULL_DESCRIPTION = "no audio: silence is sent, the caller is not played"


class NullBackend(AudioBackend):
    """No device: silence out, discard in."""

    name = "null"
    discards = True

    def __init__(self, notice: str | None = None) -> None:
        super().__init__()
        self.description = NULL_DESCRIPTION
        self.notice = notice

    def source_track(self) -> MediaStreamTrack:
        from .tracks import PacedAudioTrack, silence_chunk

        return PacedAudioTrack(self.metered(silence_chunk))

    def pcm_source(self, rate: int) -> PcmSource:
        from .tracks import silence_chunk

        return ChunkSource(self.metered(silence_chunk), rate)


class ToneBackend(AudioBackend):
    """A steady sine as the agent's voice (demo, tests, line checks); input discarded."""

    name = "tone"
    discards = True

    def __init__(self, hz: int = 440, amplitude: float = 0.3) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self.description = f"test tone {hz} Hz; the caller is not played"

    def source_track(self) -> MediaStreamTrack:
        from .tone import ToneGenerator
        from .tracks import PacedAudioTrack

        tone = ToneGenerator(self.hz, SAMPLE_RATE, self.amplitude)
        return PacedAudioTrack(self.metered(tone.next_chunk))

    def pcm_source(self, rate: int) -> PcmSource:
        from .tone import ToneGenerator

        tone = ToneGenerator(self.hz, rate, self.amplitude)
        return ChunkSource(self.metered(tone.next_chunk), rate)


def pulse_server(config: AudioConfig, env: Mapping[str, str]) -> str | None:
    """``audio.pulse.server``, else ``$PULSE_SERVER``: where a PulseAudio server was named."""
    return config.pulse.server or env.get("PULSE_SERVER") or None


def open_pulse(config: AudioConfig, env: Mapping[str, str]) -> AudioBackend:
    """The PulseAudio backend, or ``null`` with a notice when libpulse is missing."""
    from .audio_pulse import PulseBackend
    from .pulse_simple import available

    if not available():
        return NullBackend(notice="no audio device: libpulse is not installed (apt-get "
                                  "install libpulse0) — calls run without audio")
    return PulseBackend(pulse_server(config, env), input=config.input, output=config.output,
                        rate=config.pulse.rate, latency_ms=config.pulse.latency_ms,
                        via_ssh=bool(env.get("SSH_CONNECTION")))


def open_backend(config: AudioConfig, env: Mapping[str, str] | None = None) -> AudioBackend:
    """The backend the config asks for, degraded to ``null`` with a notice when needed.

    ``auto`` uses a PulseAudio server when one is named (``audio.pulse.server`` or
    ``$PULSE_SERVER`` — the SSH-tunnel case), else the sound card when PortAudio loads,
    has an input and an output device, and a stream opens; an explicit ``sounddevice``
    does the same but logs a warning when it has to fall back. Never raises for want of
    a sound card.
    """
    env = os.environ if env is None else env
    if config.backend == "pulse" or (config.backend == "auto" and pulse_server(config, env)):
        return open_pulse(config, env)
    if config.backend == "null":
        return NullBackend()
    if config.backend == "tone":
        return ToneBackend(config.tone_hz)
    if config.backend == "file":
        return FileBackend(config.file_in, config.file_out)
    backend, notice = audio_sd.open_sounddevice(config.input, config.output, config.ring)
    if backend is not None:
        return backend
    if config.backend == "sounddevice":
        log.warning("%s", notice)
    else:
        log.info("%s", notice)
    return NullBackend(notice=notice)


__all__ = [
    "SAMPLE_RATE",
    "AudioBackend",
    "AudioDeviceError",
    "DeviceInfo",
    "DeviceSelection",
    "FileBackend",
    "LevelListener",
    "NullBackend",
    "SounddeviceBackend",
    "ToneBackend",
    "list_devices",
    "open_backend",
    "rms_dbfs",
]
