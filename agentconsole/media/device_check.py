"""Checking a sound device by hand: a test tone on an output, a level meter on an input.

Both open their own PortAudio stream on the device asked for, apart from the call's
backend, so an agent can try a headset before taking calls. Blocking calls (playing a
tone) are meant to run in a worker thread; the meter's PortAudio callback only stores
a number, read by whoever polls :meth:`InputMeter.level`.
"""

from __future__ import annotations

import logging
import threading
from array import array
from typing import Any

from .audio_base import DeviceInfo
from .audio_sd import _sounddevice
from .tone import ToneGenerator

logger = logging.getLogger(__name__)

TONE_HZ = 1000
TONE_SECONDS = 1.0


def play_tone(device: DeviceInfo, seconds: float = TONE_SECONDS) -> None:
    """A 1 kHz tone on ``device`` (blocking; run it in a thread)."""
    sounddevice = _sounddevice()
    rate = int(device.default_samplerate) or 48000
    pcm = ToneGenerator(TONE_HZ, rate, 0.2).next_chunk(int(rate * seconds))
    with sounddevice.RawOutputStream(device=device.index, samplerate=rate, channels=1,
                                     dtype="int16") as stream:
        stream.write(pcm)


class InputMeter:
    """Peak level of an input device, from its own PortAudio stream."""

    def __init__(self, device: DeviceInfo) -> None:
        sounddevice = _sounddevice()
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
        """Peak of the last block, 0.0..1.0; None until the first block."""
        with self._lock:
            return self._level

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as exc:  # noqa: BLE001 - a vanished device
            logger.debug("closing the meter stream: %s", exc)
