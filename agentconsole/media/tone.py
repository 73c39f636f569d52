"""Tone generation and frequency detection on 16-bit PCM, without numpy.

Used by the ``tone`` audio backend (a test signal the remote can recognise), by the
demo, and by tests that check which tone crossed a call. Detection is a zero-crossing
estimate refined with the Goertzel algorithm (one DFT bin at a time), which is cheap
enough in pure Python for the few hundred milliseconds a test looks at.
:class:`PcmLoop` plays any clip endlessly: the tones here, the ring cadence
(:mod:`.ringer`), the file backend's WAV and the demo's voice.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

SAMPLE_RATE = 48000


def sine(hz: float, count: int, rate: int = SAMPLE_RATE, amplitude: float = 0.3,
         start: int = 0) -> array[int]:
    """``count`` int16 samples of a sine starting at sample index ``start``."""
    peak = max(0.0, min(1.0, amplitude)) * 32767
    step = 2 * math.pi * hz / rate
    return array("h", (int(peak * math.sin(step * (start + i))) for i in range(count)))


@functools.lru_cache(maxsize=32)
def _one_second(hz: int, rate: int, amplitude: float) -> bytes:
    """The table of one second of a tone, computed once per process (about 10 ms of
    pure-Python trigonometry at 48 kHz: a call set-up should not pay it each time)."""
    return sine(hz, rate, rate, amplitude).tobytes()


class PcmLoop:
    """A clip of s16 mono PCM played over and over, read in chunks of any size.

    What every endless signal here is made of: a tone's one-second table, a ring
    cadence's, a WAV file's content, the demo's voice. An empty clip loops silence.
    """

    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm or bytes(2)
        self._pos = 0  # byte offset of the next sample

    def next_chunk(self, samples: int) -> bytes:
        """The next ``samples`` samples, wrapping round to the clip's start."""
        need = samples * 2
        out = bytearray()
        while len(out) < need:
            take = min(need - len(out), len(self._pcm) - self._pos)
            out += self._pcm[self._pos : self._pos + take]
            self._pos = (self._pos + take) % len(self._pcm)
        return bytes(out)

    def skip(self, samples: int) -> None:
        """Move on by ``samples`` without reading them (a cadence's silent gap keeps the
        tone's phase running)."""
        self._pos = (self._pos + 2 * samples) % len(self._pcm)


class ToneGenerator:
    """An endless sine as consecutive chunks of s16 mono bytes.

    One second of an integer frequency is exactly periodic, so a one-second table is
    computed once and read cyclically: no trigonometry per frame.
    """

    def __init__(self, hz: int, rate: int = SAMPLE_RATE, amplitude: float = 0.3) -> None:
        self.hz = hz
        self.rate = rate
        self._loop = PcmLoop(_one_second(hz, rate, amplitude))

    def next_chunk(self, samples: int) -> bytes:
        """The next ``samples`` samples of the tone."""
        return self._loop.next_chunk(samples)


def rms(samples: Sequence[int]) -> float:
    """Root mean square of int16 samples (0 for silence, ~23170 for a full-scale sine)."""
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def goertzel_power(samples: Sequence[int], rate: int, hz: float) -> float:
    """Normalised power of one frequency in ``samples`` (Goertzel's recurrence)."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)


def zero_crossing_frequency(samples: Sequence[int], rate: int) -> float:
    """Rough frequency from the count of sign changes (good for one dominant tone)."""
    crossings = 0
    prev = 0
    for x in samples:
        sign = 1 if x > 0 else (-1 if x < 0 else 0)
        if sign and prev and sign != prev:
            crossings += 1
        if sign:
            prev = sign
    return crossings * rate / (2 * len(samples)) if samples else 0.0


def dominant_frequency(samples: Sequence[int], rate: int, *, window: int = 9600,
                       floor: float = 100.0) -> float:
    """The strongest tone in ``samples`` in Hz, 0.0 for silence (RMS below ``floor``).

    Looks at the last ``window`` samples: zero crossings give a first guess, then a
    Goertzel scan of ±30 Hz around it in 1 Hz steps picks the peak.
    """
    tail = samples[-window:] if len(samples) > window else samples
    if rms(tail) < floor:
        return 0.0
    guess = zero_crossing_frequency(tail, rate)
    best, best_power = guess, -1.0
    lo = max(1, int(guess) - 30)
    for hz in range(lo, int(guess) + 31):
        power = goertzel_power(tail, rate, hz)
        if power > best_power:
            best, best_power = float(hz), power
    return best


def frame_to_mono(frame: av.AudioFrame) -> array[int]:
    """First channel of a frame as int16 samples at the frame's own rate.

    Decoded frames from aiortc are packed s16 (mono for G.711, stereo for Opus);
    anything else is converted with a single-threaded resampler.
    """
    if frame.format.name != "s16":
        from .tracks import Resampler

        converted = Resampler("s16", frame.layout.name, frame.sample_rate).resample(frame)
        out = array("h")
        for part in converted:
            out.extend(frame_to_mono(part))
        return out
    channels = len(frame.layout.channels)
    data = array("h")
    data.frombytes(bytes(frame.planes[0])[: frame.samples * channels * 2])
    return data if channels == 1 else data[::channels]
