"""What the devices screen does to sound cards: list, rescan, test tone, input level.

Kept behind one small class so the screen is testable with a fake (the CI machines
have no sound card) and so PortAudio is touched only when the agent opens the screen.
Blocking calls (PortAudio re-initialisation, playing a tone) are meant to run in a
worker thread; the level meter's PortAudio callback only stores a number.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections.abc import Callable
from typing import Any, Protocol

from ..media.audio_pulse import HOSTAPI as PULSE_HOSTAPI
from ..media.audio_sd import DeviceInfo, list_devices

logger = logging.getLogger(__name__)

TONE_HZ = 1000
TONE_SECONDS = 1.0


class Meter(Protocol):
    def level(self) -> float | None:
        """Peak of the last block, 0.0..1.0; None until the first block."""

    def close(self) -> None: ...


class AudioProbe:
    """The real thing: sounddevice, imported lazily — or, when the phone plays through a
    PulseAudio server (``backend_of()`` returns a backend with its own device list: audio
    over SSH), that server's sinks and sources, tone and meter."""

    def __init__(self, backend_of: Callable[[], Any] | None = None) -> None:
        self._backend_of = backend_of or (lambda: None)

    def _pulse(self, device: DeviceInfo | None = None) -> Any | None:
        backend = self._backend_of()
        if getattr(backend, "name", "") != "pulse":
            return None
        if device is not None and device.hostapi != PULSE_HOSTAPI:
            return None
        return backend

    def list_devices(self) -> list[DeviceInfo]:
        pulse = self._pulse()
        return list(pulse.list_devices()) if pulse is not None else list_devices()

    def rescan(self, backend: Any | None) -> list[DeviceInfo]:
        """Re-read the device list; a sound-card backend reopens its streams too."""
        rescan = getattr(backend, "rescan", None)
        if rescan is not None:
            return list(rescan())
        try:
            import sounddevice

            sounddevice._terminate()  # PortAudio sees new devices only after a re-init
            sounddevice._initialize()
        except Exception as exc:  # noqa: BLE001 - no PortAudio: the list is just empty
            logger.debug("PortAudio re-init failed: %s", exc)
        return list_devices()

    def play_tone(self, device: DeviceInfo, seconds: float = TONE_SECONDS) -> None:
        """A 1 kHz tone on ``device`` (blocking; run it in a thread)."""
        pulse = self._pulse(device)
        if pulse is not None:
            pulse.play_test_tone(device, TONE_HZ, seconds)
            return
        import sounddevice

        from ..media.tone import ToneGenerator

        rate = int(device.default_samplerate) or 48000
        pcm = ToneGenerator(TONE_HZ, rate, 0.2).next_chunk(int(rate * seconds))
        with sounddevice.RawOutputStream(device=device.index, samplerate=rate, channels=1,
                                         dtype="int16") as stream:
            stream.write(pcm)

    def open_meter(self, device: DeviceInfo) -> Meter:
        pulse = self._pulse(device)
        if pulse is not None:
            meter: Meter = pulse.open_meter(device)
            return meter
        return InputMeter(device)


class InputMeter:
    """Peak level of an input device, from its own PortAudio stream."""

    def __init__(self, device: DeviceInfo) -> None:
        import sounddevice

        self._lock = threading.Lock()
        self._level: float | None = None
        rate = int(device.default_samplerate) or 48000
        self._stream = sounddevice.RawInputStream(device=device.index, samplerate=rate,
                                                  channels=1, dtype="int16",
                                                  blocksize=rate // 20, callback=self._on_block)
        self._stream.start()

    def _on_block(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        samples = array("h", bytes(indata))
        peak = max(max(samples, default=0), -min(samples, default=0)) / 32768.0
        with self._lock:
            self._level = min(1.0, peak)

    def level(self) -> float | None:
        with self._lock:
            return self._level

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as exc:  # noqa: BLE001 - a vanished device
            logger.debug("closing the meter stream: %s", exc)


def meter_bar(level: float | None, width: int = 30) -> str:
    """``▕██████░░░░▏`` for a 0..1 level; a dotted bar when there is no signal yet."""
    if level is None:
        return "▕" + "·" * width + "▏"
    filled = min(width, max(0, round(level * width)))
    return "▕" + "█" * filled + "░" * (width - filled) + "▏"
