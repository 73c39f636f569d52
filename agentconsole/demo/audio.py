"""Audio for the simulated parties: a speech-like voice, an echo, DTMF read-back tones.

All generated here, nothing downloaded or bundled as a file:

* :class:`VoiceBackend` plays a procedurally made "voice": a glottal-like harmonic
  series whose pitch glides per syllable, shaped by two formant-like peaks that change
  per syllable (vowels), in words separated by pauses. It sounds like someone talking
  in another room, which is what a demo needs, and is deterministic per seed.
* :class:`EchoBackend` plays back what it hears after ``delay`` seconds (the echo test
  number): received frames go into a buffer the source track reads from.
* :class:`ReadbackBackend` plays queued PCM (the DTMF read-back number says the digits
  back as their dual tones, ITU-T Q.23 frequencies), silence otherwise.
"""

from __future__ import annotations

import math
import random
from array import array
from functools import lru_cache
from typing import TYPE_CHECKING

from ..media.audio_base import SAMPLE_RATE, AudioBackend
from ..media.tone import PcmLoop

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

#: ITU-T Q.23 DTMF frequencies (low, high) in Hz.
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}
_VOICE_RATE = 16000  # generated at 16 kHz, interpolated to 48 kHz: cheap in pure Python
_VOWELS = ((730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720))


def _formant_gain(hz: float, formants: tuple[int, int]) -> float:
    return sum(1.0 / (1.0 + ((hz - f) / 120.0) ** 2) for f in formants)


def _syllable(rng: random.Random, out: array[int], low: bool) -> None:
    base = rng.uniform(95, 140) if low else rng.uniform(170, 240)
    glide = rng.uniform(-0.25, 0.2) * base
    length = int(_VOICE_RATE * rng.uniform(0.12, 0.26))
    formants = rng.choice(_VOWELS)
    phase = 0.0
    for i in range(length):
        t = i / length
        f0 = base + glide * t
        phase += 2 * math.pi * f0 / _VOICE_RATE
        envelope = math.sin(math.pi * t) ** 0.7
        value = 0.0
        for k in range(1, 7):
            value += _formant_gain(k * f0, formants) * math.sin(k * phase) / k
        out.append(int(max(-1.0, min(1.0, 0.22 * envelope * value)) * 32767))


@lru_cache(maxsize=8)
def voice_clip(seed: int, seconds: float = 3.0, low: bool = False) -> bytes:
    """``seconds`` of speech-like s16 mono PCM at 48 kHz, the same for the same seed."""
    rng = random.Random(seed)
    slow = array("h")
    target = int(seconds * _VOICE_RATE)
    while len(slow) < target:
        for _ in range(rng.randint(1, 4)):  # a word
            _syllable(rng, slow, low)
        slow.extend([0] * int(_VOICE_RATE * rng.uniform(0.08, 0.45)))  # a pause
    del slow[target:]
    factor = SAMPLE_RATE // _VOICE_RATE
    fast = array("h")
    for i, a in enumerate(slow):
        b = slow[i + 1] if i + 1 < len(slow) else slow[0]
        fast.extend(a + (b - a) * j // factor for j in range(factor))
    return fast.tobytes()


def dual_tone(low: int, high: int, seconds: float, amplitude: float = 0.25) -> bytes:
    count = int(seconds * SAMPLE_RATE)
    peak = amplitude * 32767
    wl, wh = 2 * math.pi * low / SAMPLE_RATE, 2 * math.pi * high / SAMPLE_RATE
    return array("h", (int(peak * (math.sin(wl * i) + math.sin(wh * i)) / 2)
                       for i in range(count))).tobytes()


class VoiceBackend(AudioBackend):
    """A speech-like voice as this party's audio; what it hears is discarded."""

    name = "voice"

    def __init__(self, seed: int = 0, *, low: bool = False) -> None:
        super().__init__()
        self.seed = seed
        self.low = low
        self.description = "simulated voice"

    def source_track(self) -> MediaStreamTrack:
        from ..media.tracks import PacedAudioTrack

        return PacedAudioTrack(PcmLoop(voice_clip(self.seed, low=self.low)).next_chunk)


class _Queue:
    """PCM waiting to be played, silence when empty."""

    def __init__(self, limit_bytes: int) -> None:
        self.buf = bytearray()
        self.limit = limit_bytes
        self.delay_bytes = 0
        self.started = False

    def chunk(self, samples: int) -> bytes:
        need = samples * 2
        if not self.started:
            if len(self.buf) < self.delay_bytes + need:
                return bytes(need)
            self.started = True
        if len(self.buf) < need:
            self.started = self.delay_bytes == 0
            return bytes(need)
        out = bytes(self.buf[:need])
        del self.buf[:need]
        return out

    def push(self, pcm: bytes) -> None:
        self.buf += pcm
        if len(self.buf) > self.limit:
            del self.buf[: len(self.buf) - self.limit]


class EchoBackend(AudioBackend):
    """The echo test: every received frame is played back ``delay`` seconds later.

    One backend serves the echo number's calls; a buffer per backend is enough for a
    demo where one person tests at a time (two callers at once would hear each other).
    """

    name = "echo"

    def __init__(self, delay: float = 1.0) -> None:
        super().__init__()
        self.delay = delay
        self.description = f"echo after {delay:g} s"
        self._queue = _Queue(int(SAMPLE_RATE * 2 * (delay + 2.0)))
        self._queue.delay_bytes = int(SAMPLE_RATE * 2 * delay)

    def source_track(self) -> MediaStreamTrack:
        from ..media.tracks import PacedAudioTrack

        return PacedAudioTrack(self._queue.chunk)

    def _play(self, frame: av.AudioFrame) -> None:
        self._queue.push(self.to_pcm(frame))


class ReadbackBackend(AudioBackend):
    """Plays what :meth:`say_digits` queued (DTMF dual tones), silence otherwise."""

    name = "readback"

    def __init__(self) -> None:
        super().__init__()
        self.description = "DTMF read-back"
        self._queue = _Queue(SAMPLE_RATE * 2 * 30)

    def source_track(self) -> MediaStreamTrack:
        from ..media.tracks import PacedAudioTrack

        return PacedAudioTrack(self._queue.chunk)

    def say_digits(self, digits: str, *, tone_s: float = 0.18, gap_s: float = 0.12) -> None:
        gap = bytes(int(gap_s * SAMPLE_RATE) * 2)
        for digit in digits:
            pair = DTMF_FREQUENCIES.get(digit.upper())
            if pair is not None:
                self._queue.push(dual_tone(pair[0], pair[1], tone_s) + gap)


__all__ = ["DTMF_FREQUENCIES", "EchoBackend", "ReadbackBackend", "VoiceBackend",
           "dual_tone", "voice_clip"]
